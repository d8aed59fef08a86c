"""Editor API: pause, resume and retry an edition's send (cancel is `POST /editions/ID/cancel` in editions.py)."""
from __future__ import annotations

from flask import jsonify, request

from ..delivery import ledger
from ..extensions import db
from ..models import Edition
from . import api
from .auth import require_editor
from .requests import json_body
from .responses import error_response, or_404


def _control(edition_id: int, action):
    or_404(db.session.get(Edition, edition_id), "No such edition.")
    try:
        status = action(edition_id)
    except ledger.SendConflict as error:
        return error_response(409, str(error))
    edition = db.session.get(Edition, edition_id)
    return jsonify({"id": edition_id, "status": status, "paused_reason": edition.paused_reason,
                    "counts": ledger.edition_counts(edition_id)})


@api.post("/editions/<int:edition_id>/pause")
@require_editor
def pause_send(edition_id: int):
    return _control(edition_id, ledger.pause_edition)


@api.post("/editions/<int:edition_id>/resume")
@require_editor
def resume_send(edition_id: int):
    return _control(edition_id, ledger.resume_edition)


@api.post("/editions/<int:edition_id>/retry-failed")
@require_editor
def retry_failed(edition_id: int):
    """Queue the failed deliveries once more; JSON `{"reason": "5.4.5"}` limits it to replies containing that."""
    body = json_body() if request.content_length else {}
    reason = body.get("reason") if isinstance(body, dict) else ""
    if not isinstance(body, dict) or (reason is not None and (not isinstance(reason, str) or len(reason) > 200)):
        return error_response(422, "Invalid request.", {"reason": "must be a string of at most 200 characters"})
    edition = or_404(db.session.get(Edition, edition_id), "No such edition.")
    try:
        requeued = ledger.retry_failed(edition_id, reason or None)
    except ledger.SendConflict as error:
        return error_response(409, str(error))
    return jsonify({"id": edition_id, "status": edition.status, "requeued": requeued,
                    "counts": ledger.edition_counts(edition_id)})
