"""Editor API: editions (list, build, show with counts, preview, test send, send, schedule, cancel)."""
from __future__ import annotations

from flask import Response, jsonify, request

from .. import archive, editions as service
from ..addresses import InvalidAddress, normalise_address
from ..config import LANGUAGES
from ..delivery import ledger
from ..delivery.transport import DeliveryError
from ..models import Edition
from ..models.content import EditionStatus
from ..weeks import BadWeek, parse_week
from . import api
from .auth import require_editor
from .requests import choice_arg, json_body
from .responses import error_response, or_404

MAX_TEST_RECIPIENTS = 10


def edition_json(edition: Edition) -> dict:
    body = {
        "id": edition.id,
        "week_start": edition.week_start.isoformat(),
        "language": edition.language,
        "status": edition.status,
        "subject": edition.subject,
        "article_count": edition.article_count,
        "built_at": edition.built_at.isoformat() if edition.built_at else None,
        "scheduled_for": edition.scheduled_for.isoformat() if edition.scheduled_for else None,
        "send_started_at": edition.send_started_at.isoformat() if edition.send_started_at else None,
        "sent_at": edition.sent_at.isoformat() if edition.sent_at else None,
        "cancelled_at": edition.cancelled_at.isoformat() if edition.cancelled_at else None,
        "paused_reason": edition.paused_reason,
    }
    body["counts"] = ledger.edition_counts(edition.id)
    return body


def _edition_or_404(edition_id: int) -> Edition:
    return or_404(service.get_edition(edition_id), "No such edition.")


@api.get("/editions")
@require_editor
def list_editions():
    language = choice_arg("language", LANGUAGES)
    rows = service.list_editions(language, choice_arg("status", tuple(EditionStatus)))
    return jsonify({"editions": [edition_json(e) for e in rows]})


@api.post("/editions")
@require_editor
def build_editions():
    data = json_body()
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object with Content-Type: application/json.")
    errors = {}
    try:
        week_start = parse_week(data.get("week", ""))
    except BadWeek:
        errors["week"] = "must be a date, YYYY-MM-DD, in the years 1900 to 2999"
    languages = data.get("languages") or list(LANGUAGES)
    if not isinstance(languages, list) or any(code not in LANGUAGES for code in languages):
        errors["languages"] = f"must be a list of {', '.join(LANGUAGES)}"
    if errors:
        return error_response(422, "The request is not valid.", errors)
    built = service.build_week(week_start, languages)
    return jsonify({"week_start": week_start.isoformat(), "editions": [edition_json(e) for e in built]}), 200


@api.get("/editions/<int:edition_id>")
@require_editor
def show_edition(edition_id: int):
    edition = _edition_or_404(edition_id)
    return jsonify(edition_json(edition))


@api.get("/editions/<int:edition_id>/preview")
@require_editor
def preview_edition(edition_id: int):
    """The rendered HTML (or ?format=text, the text part) without personal links."""
    edition = _edition_or_404(edition_id)
    if request.args.get("format") == "text":
        return Response(archive.public_text(edition), mimetype="text/plain")
    response = Response(archive.public_html(edition), mimetype="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response


@api.get("/editions/<int:edition_id>/preview.txt")
@require_editor
def preview_edition_text(edition_id: int):
    edition = _edition_or_404(edition_id)
    return Response(archive.public_text(edition), mimetype="text/plain")


def _test_recipients(data) -> tuple[list[str], str | None]:
    recipients = data.get("recipients") if isinstance(data, dict) else None
    if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_TEST_RECIPIENTS:
        return [], f"must be a list of 1 to {MAX_TEST_RECIPIENTS} addresses"
    cleaned = []
    for address in recipients:
        try:
            cleaned.append(normalise_address(address))
        except InvalidAddress as error:
            return [], f"{error.message} ({str(address)[:100]!r})"
    return cleaned, None


@api.post("/editions/<int:edition_id>/test")
@require_editor
def test_send(edition_id: int):
    edition = _edition_or_404(edition_id)
    recipients, problem = _test_recipients(json_body())
    if problem:
        return error_response(422, "The request is not valid.", {"recipients": problem})
    try:
        service.send_test(edition, recipients)
    except DeliveryError as error:
        return error_response(502, f"The mail server did not accept the test message: {error}")
    return jsonify({"sent": len(recipients), "test": True})


@api.post("/editions/<int:edition_id>/send")
@require_editor
def send_edition(edition_id: int):
    edition = _edition_or_404(edition_id)
    try:
        queued = service.send_edition(edition)
    except ledger.SendConflict as error:
        return error_response(409, str(error))
    return jsonify({"id": edition.id, "status": "sending", "queued": queued}), 202


@api.post("/editions/<int:edition_id>/schedule")
@require_editor
def schedule_edition(edition_id: int):
    edition = _edition_or_404(edition_id)
    data = json_body()
    try:
        when = service.parse_send_time(data.get("at") if isinstance(data, dict) else None)
    except service.BadSendTime:
        return error_response(422, "The request is not valid.",
                              {"at": "must be an ISO 8601 date and time in the years 1900 to 2999"})
    try:
        service.schedule_edition(edition, when)
    except service.EditionConflict as error:
        return error_response(409, str(error))
    return jsonify(edition_json(edition))


@api.post("/editions/<int:edition_id>/cancel")
@require_editor
def cancel_edition(edition_id: int):
    edition = _edition_or_404(edition_id)
    try:
        service.cancel_edition(edition)
    except service.EditionConflict as error:
        return error_response(409, str(error))
    return jsonify(edition_json(edition))
