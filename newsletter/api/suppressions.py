"""Editor API for the suppression list: list, add, remove (addresses travel in JSON bodies, never in URLs)."""

from __future__ import annotations

from flask import abort, current_app, jsonify
from flask_babel import gettext as _

from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.requests import json_body
from newsletter.api.responses import error_response
from newsletter.core.addresses import InvalidAddress
from newsletter.core.settings import settings_of
from newsletter.subscribers import suppression

MAX_REASON = 500


def _reason_in_body() -> str:
    """The optional `reason`: text of at most MAX_REASON characters (a longer or non-text one is a 422)."""
    body = json_body()
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        abort(error_response(422, _("Invalid input."), {"reason": f"must be text of at most {MAX_REASON} characters"}))
    return reason or ""


def _address_in_body() -> object:
    body = json_body()
    return body.get("email") if isinstance(body, dict) else None


@api.errorhandler(InvalidAddress)
def _invalid_address(error: InvalidAddress):
    return error_response(422, _("Invalid input."), {"email": str(error)})


@api.errorhandler(suppression.NotSuppressed)
def _not_suppressed(_error):
    return error_response(404, _("This address is not on the suppression list."))


@api.get("/suppressions")
@require_editor
def list_suppressions():
    return jsonify({"suppressions": [suppression.entry_json(entry) for entry in suppression.entries()]})


@api.post("/suppressions")
@require_editor
def add_suppression():
    """`{"email": …, "reason": …}` → 201 when added, 200 when it was listed already."""
    settings = settings_of(current_app)
    added = suppression.add(
        _address_in_body(), _reason_in_body(), settings.site.secret_key, smtp_utf8=settings.mail.smtp_utf8
    )
    return jsonify({"added": added}), 201 if added else 200


@api.post("/suppressions/remove")
@require_editor
def remove_suppression():
    """`{"email": …}` → 204; 404 when the address is not listed."""
    _reason_in_body()  # the document allows one on removal too; it must still be well formed
    settings = settings_of(current_app)
    suppression.remove(_address_in_body(), settings.site.secret_key, smtp_utf8=settings.mail.smtp_utf8)
    return "", 204
