"""`POST /api/v1/subscriptions`: the JSON face of the double opt-in."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext as _

from newsletter.api import api
from newsletter.api.requests import NOT_JSON, UnreadableBody, read_json
from newsletter.core import rate_limits
from newsletter.core.settings import settings_of
from newsletter.subscribers import subscriptions
from newsletter.subscribers.consent import API, RequestOrigin


def _errors(status: int, errors: dict):
    return jsonify({"errors": {field: str(message) for field, message in errors.items()}}), status


def _read_json_object():
    """The request body as a JSON object, or an error response."""
    try:
        body = read_json()
    except UnreadableBody as error:
        if error.reason == NOT_JSON:
            return None, _errors(415, {"body": _("Send the request as JSON (Content-Type: application/json).")})
        return None, _errors(400, {"body": _("The request body is not valid JSON.")})
    if not isinstance(body, dict):
        return None, _errors(422, {"body": _("The request body must be a JSON object.")})
    return body, None


@api.post("/subscriptions")
@rate_limits.limit(rate_limits.SUBSCRIBE)
def create_subscription():
    """Accepted with the same body whatever the address's state: nothing reveals who is subscribed."""
    body, failure = _read_json_object()
    if failure:
        return failure
    errors = {}
    for field in ("email", "languages"):
        if field not in body:
            errors[field] = _("This field is required.")
    for field in ("locale", "page"):
        if field in body and not isinstance(body[field], str):
            errors[field] = _("This field must be text.")
    if errors:
        return _errors(422, errors)
    locale = body.get("locale")
    origin = RequestOrigin(API, _page(body), request.remote_addr, request.user_agent.string)
    try:
        subscription = subscriptions.build_request(
            body["email"], body["languages"], locale, origin, smtp_utf8=settings_of(current_app).mail.smtp_utf8
        )
    except subscriptions.InvalidSubscription as error:
        return _errors(422, error.errors)
    subscriptions.subscribe(subscription, settings_of(current_app))
    message = _("Thank you. If the address can receive our newsletter, a confirmation email is on its way.")
    return jsonify({"status": "accepted", "message": message}), 202


def _page(body: dict) -> str | None:
    """The page the visitor subscribed on: a `page` field, else the Referer."""
    page = body.get("page")
    return page if isinstance(page, str) and page else request.referrer
