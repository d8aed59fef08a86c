"""Editor API: the week's stories, the decisions made once per story, linking and unlinking translations.

Domain errors (StoryInvalid -> 422, StoryConflict -> 409) are mapped once in errors.py.
"""

from __future__ import annotations

from flask import jsonify, request

from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.requests import json_body
from newsletter.api.responses import error_response, or_404
from newsletter.content import stories as service
from newsletter.content.weeks import BadWeek, parse_week


def _body() -> dict:
    data = json_body()
    if not isinstance(data, dict):
        raise service.StoryInvalid({"body": "send a JSON object with Content-Type: application/json"})
    return data


@api.get("/stories")
@require_editor
def list_stories():
    try:
        week_start = parse_week(request.args.get("week", ""))
    except BadWeek:
        return error_response(422, "The request is not valid.", {"week": "must be a date, YYYY-MM-DD"})
    found = service.week_stories(week_start)
    return jsonify({"week_start": week_start.isoformat(), "stories": [service.story_json(s) for s in found]})


@api.get("/stories/<int:story_id>")
@require_editor
def show_story(story_id: int):
    story = or_404(service.get_story(story_id), "No such story.")
    return jsonify({**service.story_json(story), "suggestions": _suggestions(story)})


def _suggestions(story) -> list[dict]:
    seen: dict[int, dict] = {}
    for article in story.articles:
        for other in service.suggestions(article):
            seen.setdefault(other.id, {"id": other.id, "language": other.language, "title": other.title})
    return list(seen.values())


@api.patch("/stories/<int:story_id>")
@require_editor
def update_story(story_id: int):
    """Any of trend (worse|better|unchanged|null), included, lead, position, section; every language follows."""
    story = or_404(service.get_story(story_id), "No such story.")
    return jsonify(service.story_json(service.update_story(story, _body())))


@api.post("/stories")
@require_editor
def link_stories():
    """{"articles": [ids]}: one story of these articles (409 when two are in the same language)."""
    story = service.link_articles(_body().get("articles"))
    return jsonify(service.story_json(story)), 201


@api.delete("/stories/<int:story_id>/articles/<int:article_id>")
@require_editor
def unlink_article(story_id: int, article_id: int):
    story = or_404(service.get_story(story_id), "No such story.")
    own = service.unlink_article(story, article_id)
    return jsonify(
        {
            "story": service.story_json(or_404(service.get_story(story_id), "No such story.")),
            "article_story": service.story_json(own),
        }
    )
