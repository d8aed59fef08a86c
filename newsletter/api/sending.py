"""Editor API: pause and resume an edition's send (cancel is `POST /editions/ID/cancel` in editions.py).

A state that does not allow the action is a 409 from the app's one error handler (api/errors.py).
"""
from __future__ import annotations

from flask import jsonify

from .. import editions as service
from ..delivery import ledger
from . import api
from .auth import require_editor
from .responses import or_404


def _control(edition_id: int, action):
    edition = or_404(service.get_edition(edition_id), "No such edition.")
    status = action(edition)
    return jsonify({"id": edition_id, "status": status, "counts": ledger.edition_counts(edition_id)})


@api.post("/editions/<int:edition_id>/pause")
@require_editor
def pause_send(edition_id: int):
    return _control(edition_id, service.pause_edition)


@api.post("/editions/<int:edition_id>/resume")
@require_editor
def resume_send(edition_id: int):
    return _control(edition_id, service.resume_edition)
