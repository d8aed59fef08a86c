"""Editor API: send a week (every ready language at once; each language's count or the reason it was not sent)."""

from __future__ import annotations

from flask import jsonify

from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.responses import error_response
from newsletter.content.weeks import BadWeek, parse_week
from newsletter.editions.week_send import missing_translations, send_week


def _week(value: str):
    try:
        return parse_week(value), None
    except BadWeek:
        return None, error_response(422, "The request is not valid.", {"week": "must be a date, YYYY-MM-DD"})


@api.get("/weeks/<week>")
@require_editor
def show_week(week: str):
    week_start, problem = _week(week)
    if problem:
        return problem
    return jsonify({"week_start": week_start.isoformat(), "missing_translations": missing_translations(week_start)})


@api.post("/weeks/<week>/send")
@require_editor
def send_the_week(week: str):
    week_start, problem = _week(week)
    if problem:
        return problem
    result = send_week(week_start)
    return jsonify(result.as_json()), 202 if result.queued or any(
        e.queued is not None for e in result.languages
    ) else 409
