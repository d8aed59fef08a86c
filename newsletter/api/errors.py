"""The one mapping from domain errors to HTTP for the whole app: registered once, one JSON error shape.

Views raise or let through domain exceptions; none of them holds a try/except for a 409 or a 422. Under
/api/ the answer is the API's JSON error; elsewhere (the editors' console) the site's error page.
"""

from __future__ import annotations

from flask import Flask, render_template, request

from newsletter.api.responses import error_response
from newsletter.content.sections import SectionsInvalid
from newsletter.content.stories import ArticlesMissing, StoryConflict, StoryInvalid
from newsletter.content.story_links import StoryPatternInvalid
from newsletter.editions import BuildFailed, EditionInvalid
from newsletter.models.lifecycle import EditionConflict


def _answer(code: int, message: str, fields: dict | None = None):
    if request.path.startswith("/api/"):
        return error_response(code, message, fields)
    details = "; ".join(f"{name}: {text}" for name, text in (fields or {}).items())
    return render_template("pages/error.html", code=code, message=message, details=details), code


def edition_conflict(error: EditionConflict):
    """The edition's state does not allow the action; the message names the current state."""
    return _answer(409, str(error))


def story_conflict(error: StoryConflict):
    return _answer(409, str(error))


def articles_missing(error: ArticlesMissing):
    return _answer(404, str(error))


def misconfigured(error: StoryPatternInvalid):
    """A setting the operator must fix; the message names it (never a traceback)."""
    return _answer(500, str(error))


def invalid_input(error: EditionInvalid | SectionsInvalid | StoryInvalid):
    return _answer(422, "The request is not valid.", error.errors)


def build_failed(error: BuildFailed):
    """The digest cannot be rendered from the current articles: the editor must fix the named article."""
    return _answer(422, str(error), {"article_id": str(error.article_id)} if error.article_id else None)


def register(app: Flask) -> None:
    app.register_error_handler(EditionConflict, edition_conflict)
    app.register_error_handler(EditionInvalid, invalid_input)
    app.register_error_handler(SectionsInvalid, invalid_input)
    app.register_error_handler(StoryInvalid, invalid_input)
    app.register_error_handler(StoryConflict, story_conflict)
    app.register_error_handler(ArticlesMissing, articles_missing)
    app.register_error_handler(StoryPatternInvalid, misconfigured)
    app.register_error_handler(BuildFailed, build_failed)
