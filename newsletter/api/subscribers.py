"""Editor API for subscribers: a paged list, a CSV export, and erasure on request."""

from __future__ import annotations

import io

from flask import Response, current_app, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from newsletter.accounts.roles import Action
from newsletter.api import api
from newsletter.api.auth import forbidden, may, require_editor
from newsletter.api.requests import json_body
from newsletter.api.responses import or_404
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.core.settings import settings_of
from newsletter.models import Subscriber, SubscriberLanguage
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from newsletter.subscribers import import_export as subscriber_io

MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000
ALL_WORDS = ("1", "true", "yes")
NOT_ALL_WORDS = ("0", "false", "no")


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _subscriber_json(subscriber: Subscriber) -> dict:
    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "status": subscriber.status,
        "languages": subscriber.confirmed_languages,
        "pending_languages": subscriber.pending_languages,
        "locale": subscriber.locale,
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
    }


def _bad_query(field: str, message: str):
    return jsonify({"errors": {field: message}}), 422


def _positive_int(name: str, default: int, maximum: int) -> int | None:
    """A whole number from 1 to `maximum` (ASCII digits only), else None."""
    raw = request.args.get(name, str(default))
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)):
        return None
    return int(raw) if 0 < int(raw) <= maximum else None


@api.get("/subscribers")
@require_editor
def list_subscribers():
    """`?page=1&per_page=100&status=confirmed&language=ru`, newest first."""
    page, per_page = _positive_int("page", 1, MAX_PAGE), _positive_int("per_page", 100, MAX_PER_PAGE)
    if page is None:
        return _bad_query("page", f"page must be a whole number from 1 to {MAX_PAGE}")
    if per_page is None:
        return _bad_query("per_page", f"per_page must be between 1 and {MAX_PER_PAGE}")
    query = select(Subscriber)
    status, language = request.args.get("status"), request.args.get("language")
    if status is not None:
        if status not in (PENDING, CONFIRMED, UNSUBSCRIBED):
            return _bad_query("status", "status must be pending, confirmed or unsubscribed")
        query = query.where(Subscriber.status == status)
    if language is not None:
        if language not in LANGUAGES:
            return _bad_query("language", "language must be be, ru or en")
        query = query.where(Subscriber.languages.any(SubscriberLanguage.language == language))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.options(selectinload(Subscriber.languages))
        .order_by(Subscriber.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return jsonify(
        {"subscribers": [_subscriber_json(row) for row in rows], "page": page, "per_page": per_page, "total": total}
    )


@api.get("/subscribers/export")
@require_editor
def export_subscribers():
    """The CSV of `newsletter subscribers export` (`?all=1` adds pending and unsubscribed, with status)."""
    flag = request.args.get("all", "0").lower()  # given, it must say yes or no: `?all=` is a 422
    if flag not in ALL_WORDS + NOT_ALL_WORDS:
        return _bad_query("all", "all must be one of 1, true, yes, 0, false, no")
    include_all = flag in ALL_WORDS
    if include_all and not may(Action.EXPORT_ALL):
        return forbidden()
    buffer = io.StringIO()
    subscriber_io.write_csv(buffer, include_all)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"', "Cache-Control": "no-store"},
    )


@api.delete("/subscribers/<int:subscriber_id>")
@require_editor
def erase_subscriber(subscriber_id: int):
    subscriber = or_404(db.session.get(Subscriber, subscriber_id), "No such subscriber.")
    subscriber_io.erase_subscriber(subscriber, settings_of(current_app).site.secret_key)
    return "", 204


@api.post("/subscribers/erase")
@require_editor
def erase_subscriber_by_email():
    """Erasure by address, sent in a JSON body `{"email": …}` so it never appears in a URL or access log."""
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("email"), str):
        return _bad_query("email", "send a JSON object with the subscriber's email")
    settings = settings_of(current_app)
    found = subscriber_io.find_subscriber(body["email"], smtp_utf8=settings.mail.smtp_utf8)
    subscriber = or_404(found, "No subscriber with this address.")
    subscriber_io.erase_subscriber(subscriber, settings.site.secret_key)
    return "", 204
