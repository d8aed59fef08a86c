"""Records the editor API's successful changes in the activity log, in one place for every endpoint.

An endpoint missing here is simply not logged; one that issue branches add (PATCH, unschedule,
reopen…) gets a line in ENDPOINT_ACTIONS.
"""

from __future__ import annotations

from flask import Response, g, request

from newsletter.accounts import activity
from newsletter.api import api

ENDPOINT_ACTIONS = {
    "api.create_article": ("article_create", "article"),
    "api.update_article": ("article_edit", "article"),
    "api.delete_article": ("article_delete", "article"),
    "api.build_editions": ("build", "week"),
    "api.edit_edition": ("edit", "edition"),
    "api.test_send": ("test_send", "edition"),
    "api.send_edition": ("send", "edition"),
    "api.schedule_edition": ("schedule", "edition"),
    "api.unschedule_edition": ("unschedule", "edition"),
    "api.reopen_edition": ("reopen", "edition"),
    "api.cancel_edition": ("cancel", "edition"),
    "api.pause_send": ("pause", "edition"),
    "api.resume_send": ("resume", "edition"),
    "api.replace_sections": ("sections_set", "sections"),
    "api.update_story": ("story_edit", "story"),
    "api.link_stories": ("story_link", "story"),
    "api.unlink_article": ("story_unlink", "story"),
    "api.send_the_week": ("week_send", "week"),
    "api.erase_subscriber": ("erase", "subscriber"),
    "api.erase_subscriber_by_email": ("erase", "subscriber"),
}


def _subject(kind: str, response: Response) -> str:
    """A readable subject from the URL's id, or (for creations) the id in the JSON answer; never an address."""
    ids = [value for value in (request.view_args or {}).values() if isinstance(value, int)]
    body = response.get_json(silent=True) if response.is_json else None
    if not ids and isinstance(body, dict) and isinstance(body.get("id"), int):
        ids = [body["id"]]
    if kind == "week" and isinstance(body, dict) and body.get("week_start"):
        return f"week {body['week_start']}"
    return f"{kind} {ids[0]}" if ids else kind


@api.after_request
def record_api_activity(response: Response) -> Response:
    found = ENDPOINT_ACTIONS.get(request.endpoint or "")
    editor = g.get("editor")
    if found is None or editor is None or response.status_code >= 400:
        return response
    action, kind = found
    activity.record(activity.editor_actor(editor, "api"), action, _subject(kind, response))
    return response
