"""The one mapping from domain errors to HTTP for the whole app: registered once, one JSON error shape.

Views raise or let through domain exceptions; none of them holds a try/except for a 409 or a 422.
"""
from __future__ import annotations

from flask import Flask

from ..editions import BuildFailed, EditionInvalid
from ..lifecycle import EditionConflict
from ..sections import SectionsInvalid
from .responses import error_response


def edition_conflict(error: EditionConflict):
    """The edition's state does not allow the action; the message names the current state."""
    return error_response(409, str(error))


def edition_invalid(error: EditionInvalid | SectionsInvalid):
    return error_response(422, "The request is not valid.", error.errors)


def build_failed(error: BuildFailed):
    """The digest cannot be rendered from the current articles: the editor must fix the named article."""
    return error_response(422, str(error), {"article_id": str(error.article_id)} if error.article_id else None)


def register(app: Flask) -> None:
    app.register_error_handler(EditionConflict, edition_conflict)
    app.register_error_handler(EditionInvalid, edition_invalid)
    app.register_error_handler(SectionsInvalid, edition_invalid)
    app.register_error_handler(BuildFailed, build_failed)
