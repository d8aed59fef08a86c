"""Editor API: pause, resume and retry an edition's send (cancel is `POST /editions/ID/cancel` in editions.py).

A state that does not allow the action is a 409 from the app's one error handler (api/errors.py).
"""

from __future__ import annotations

from flask import jsonify, request

from newsletter import editions as service
from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.requests import json_body
from newsletter.api.responses import error_response, or_404
from newsletter.delivery import ledger


def _control(edition_id: int, action, **extra):
    edition = or_404(service.get_edition(edition_id), "No such edition.")
    status = action(edition)
    return jsonify(
        {
            "id": edition_id,
            "status": status,
            "paused_reason": edition.paused_reason,
            "counts": ledger.edition_counts(edition_id),
            **extra,
        }
    )


@api.post("/editions/<int:edition_id>/pause")
@require_editor
def pause_send(edition_id: int):
    return _control(edition_id, service.pause_edition)


@api.post("/editions/<int:edition_id>/resume")
@require_editor
def resume_send(edition_id: int):
    return _control(edition_id, service.resume_edition)


@api.post("/editions/<int:edition_id>/retry-failed")
@require_editor
def retry_failed(edition_id: int):
    """Queue the failed deliveries once more; JSON `{"reason": "5.4.5"}` limits it to replies containing that."""
    body = json_body() if request.content_length else {}
    reason = body.get("reason") if isinstance(body, dict) else ""
    if not isinstance(body, dict) or (reason is not None and (not isinstance(reason, str) or len(reason) > 200)):
        return error_response(422, "Invalid request.", {"reason": "must be a string of at most 200 characters"})
    requeued: list[int] = []

    def retry(edition) -> str:
        requeued.append(service.retry_failed(edition, reason or None))
        return edition.status

    response = _control(edition_id, retry)
    return jsonify({**response.get_json(), "requeued": requeued[0]})
