"""Editor API: pause and resume an edition's send (cancel is `POST /editions/ID/cancel` in editions.py)."""
from __future__ import annotations

from flask import jsonify

from ..delivery import ledger
from ..extensions import db
from ..models import Edition
from . import api
from .auth import require_editor
from .responses import error_response, or_404


def _control(edition_id: int, action):
    or_404(db.session.get(Edition, edition_id), "No such edition.")
    try:
        status = action(edition_id)
    except ledger.SendConflict as error:
        return error_response(409, str(error))
    return jsonify({"id": edition_id, "status": status, "counts": ledger.edition_counts(edition_id)})


@api.post("/editions/<int:edition_id>/pause")
@require_editor
def pause_send(edition_id: int):
    return _control(edition_id, ledger.pause_edition)


@api.post("/editions/<int:edition_id>/resume")
@require_editor
def resume_send(edition_id: int):
    return _control(edition_id, ledger.resume_edition)
