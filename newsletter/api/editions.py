"""Editor API: editions (list, build, show with counts, edit, preview, test send, send, schedule, cancel, reopen).

Domain errors (EditionConflict -> 409, EditionInvalid -> 422, BuildFailed -> 422) are mapped once in errors.py.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, jsonify, request

from newsletter import editions as service
from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.requests import choice_arg, json_body
from newsletter.api.responses import error_response, or_404
from newsletter.content.weeks import BadWeek, parse_week
from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.config import LANGUAGES
from newsletter.core.settings import settings_of
from newsletter.delivery import ledger
from newsletter.delivery.transport import DeliveryError
from newsletter.editions.control import status_summary
from newsletter.editions.editorial import editorial_json
from newsletter.editions.rendering import clip_warning, compact_notice
from newsletter.models import Edition
from newsletter.models.content import EditionStatus

MAX_TEST_RECIPIENTS = 10


def _grace() -> timedelta:
    return timedelta(seconds=float(current_app.config["SCHEDULE_GRACE_SECONDS"]))


def edition_json(edition: Edition) -> dict:
    """An edition as the API shows it: times in the publication's zone with its offset."""
    warning = clip_warning(edition.html or "")
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
        "stale": service.is_stale(edition),
        "overdue": service.is_overdue(edition, _grace()),
        "published": edition.unpublished_at is None,
        "html_bytes": len((edition.html or "").encode("utf-8")),
        "warnings": [note for note in (warning, compact_notice(edition.contents)) if note],
        **editorial_json(edition),
    }
    for name in ("built_at", "scheduled_for", "send_started_at", "sent_at", "cancelled_at"):
        body[name] = service.shown_time(getattr(edition, name))
    body["counts"] = ledger.edition_counts(edition.id)
    body["status_summary"] = status_summary(edition.status, int(body["counts"].get("failed") or 0))
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
    built = service.build_week_report(week_start, languages)
    failures = {language: str(failure) for language, failure in built.failures.items()}
    return jsonify(
        {
            "week_start": week_start.isoformat(),
            "editions": [edition_json(e) for e in built.editions],
            "failures": failures,
        }
    ), 200


@api.get("/editions/<int:edition_id>")
@require_editor
def show_edition(edition_id: int):
    edition = _edition_or_404(edition_id)
    return jsonify(edition_json(edition))


@api.patch("/editions/<int:edition_id>")
@require_editor
def edit_edition(edition_id: int):
    """Any of subject, preheader, intro, lead_article_id, article_ids, excluded_article_ids (null: default)."""
    edition = _edition_or_404(edition_id)
    data = json_body()
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object with Content-Type: application/json.")
    service.update_editorial(edition, data)
    return jsonify(edition_json(edition))


@api.get("/editions/<int:edition_id>/preview")
@require_editor
def preview_edition(edition_id: int):
    """The rendered HTML (or ?format=text, the text part) without personal links."""
    edition = _edition_or_404(edition_id)
    if request.args.get("format") == "text":
        return Response(service.preview_text(edition), mimetype="text/plain")
    response = Response(service.preview_html(edition), mimetype="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response


@api.get("/editions/<int:edition_id>/preview.txt")
@require_editor
def preview_edition_text(edition_id: int):
    edition = _edition_or_404(edition_id)
    return Response(service.preview_text(edition), mimetype="text/plain")


def _test_recipients(data) -> tuple[list[str], str | None]:
    recipients = data.get("recipients") if isinstance(data, dict) else None
    if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_TEST_RECIPIENTS:
        return [], f"must be a list of 1 to {MAX_TEST_RECIPIENTS} addresses"
    cleaned = []
    for address in recipients:
        try:
            cleaned.append(normalise_address(address, smtp_utf8=settings_of(current_app).mail.smtp_utf8))
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
        service.send_test(edition, recipients, settings_of(current_app))
    except DeliveryError as error:
        return error_response(502, f"The mail server did not accept the test message: {error}")
    return jsonify({"sent": len(recipients), "test": True})


@api.post("/editions/<int:edition_id>/send")
@require_editor
def send_edition(edition_id: int):
    edition = _edition_or_404(edition_id)
    queued = service.send_edition(edition)
    return jsonify({"id": edition.id, "status": edition.status, "queued": queued}), 202


@api.post("/editions/<int:edition_id>/schedule")
@require_editor
def schedule_edition(edition_id: int):
    """`at`: ISO 8601, an offset or a zone name optional (default: the publication's zone); the past is a 422."""
    edition = _edition_or_404(edition_id)
    data = json_body()
    when = service.parse_send_time(data.get("at") if isinstance(data, dict) else None)
    service.schedule_edition(edition, when)
    return jsonify(edition_json(edition))


def _edition_after(edition_id: int, action) -> Response:
    edition = _edition_or_404(edition_id)
    action(edition)
    return jsonify(edition_json(edition))


@api.post("/editions/<int:edition_id>/unschedule")
@require_editor
def unschedule_edition(edition_id: int):
    return _edition_after(edition_id, service.unschedule_edition)


@api.post("/editions/<int:edition_id>/cancel")
@require_editor
def cancel_edition(edition_id: int):
    return _edition_after(edition_id, service.cancel_edition)


@api.post("/editions/<int:edition_id>/reopen")
@require_editor
def reopen_edition(edition_id: int):
    """A cancelled edition with no deliveries goes back to draft; one with deliveries is a 409."""
    return _edition_after(edition_id, service.reopen_edition)


@api.post("/editions/<int:edition_id>/unpublish")
@require_editor
def unpublish_edition(edition_id: int):
    """Take the edition off the public archive (web-view links then answer 404)."""
    return _edition_after(edition_id, lambda edition: service.set_published(edition, False))


@api.post("/editions/<int:edition_id>/publish")
@require_editor
def publish_edition(edition_id: int):
    return _edition_after(edition_id, lambda edition: service.set_published(edition, True))
