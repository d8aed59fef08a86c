"""`POST /webhooks/bounces/<provider>`: providers' HTTP reports turned into the parser's `Report`s.

- `ses`: Amazon SES notifications delivered by SNS; the SNS signature is verified first.
- `postmark`: Postmark's bounce and spam-complaint webhooks, behind HTTP basic auth.
- `generic`: `{"events": [{"id", "type": "hard|soft|complaint", "return_path", "message_id", "status",
  "diagnostic"}]}` (or one such object), behind a bearer token; see the README.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from newsletter.bounces import classify, ses, sns
from newsletter.bounces.dsn import valid_status
from newsletter.bounces.report import Report
from newsletter.models import BounceKind

POSTMARK_KINDS = {
    "HardBounce": (BounceKind.HARD, "no_such_address"),
    "BadEmailAddress": (BounceKind.HARD, "no_such_address"),
    "ManuallyDeactivated": (BounceKind.HARD, "disabled_or_moved"),
    "SoftBounce": (BounceKind.SOFT, "temporarily_unavailable"),
    "Transient": (BounceKind.SOFT, "temporarily_unavailable"),
    "DnsError": (BounceKind.SOFT, "network"),
    "SpamNotification": (BounceKind.ABOUT_US, "spam"),
    "ContentFilter": (BounceKind.ABOUT_US, "spam"),
    "Blocked": (BounceKind.ABOUT_US, "blocked"),
    "SMTPApiError": (BounceKind.ABOUT_US, "policy"),
    "AutoResponder": (BounceKind.IGNORED, "auto_reply"),
    "OpenRelayTest": (BounceKind.IGNORED, "relay_test"),
    "SpamComplaint": (BounceKind.COMPLAINT, "abuse"),
}
GENERIC_KINDS = {
    "hard": BounceKind.HARD,
    "soft": BounceKind.SOFT,
    "about_us": BounceKind.ABOUT_US,
    "complaint": BounceKind.COMPLAINT,
    "unsubscribe": BounceKind.UNSUBSCRIBE,
}


class HeaderSource(Protocol):
    """A request's headers (werkzeug's `Headers`, or a plain mapping): only `get` is used."""

    def get(self, key: str, default: str) -> str | None: ...


class WebhookRejected(Exception):
    """The request is refused as a whole; nothing was recorded. `status` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebhookSettings:
    sns_cert_url_pattern: str
    postmark_auth: str | None
    generic_token: str | None
    sns_topic_arns: frozenset[str] = frozenset()
    """The SNS topics accepted (NEWSLETTER_SNS_TOPIC_ARNS); empty accepts any topic of a verified message."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebhookSettings:
        def text(name: str) -> str | None:  # a token of digits arrives as a number from the environment
            value = config.get(name)
            return None if value in (None, "") else str(value)

        topics = frozenset(part.strip() for part in str(config.get("SNS_TOPIC_ARNS") or "").split(",") if part.strip())
        return cls(
            str(config["SNS_CERT_URL_PATTERN"]), text("POSTMARK_WEBHOOK_AUTH"), text("BOUNCE_WEBHOOK_TOKEN"), topics
        )


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise WebhookRejected(400, "the body is not JSON") from error


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def ses_reports(body: bytes, headers: HeaderSource, settings: WebhookSettings) -> list[Report]:
    envelope = _json(body)
    if not isinstance(envelope, dict):
        raise WebhookRejected(400, "expected an SNS message object")
    try:
        sns.verify(envelope, settings.sns_cert_url_pattern)
    except sns.BadSignature as error:
        raise WebhookRejected(403, str(error)) from error
    if settings.sns_topic_arns and str(envelope.get("TopicArn", "")) not in settings.sns_topic_arns:
        raise WebhookRejected(403, "this SNS topic is not accepted (NEWSLETTER_SNS_TOPIC_ARNS)")
    if envelope.get("Type") == "SubscriptionConfirmation":
        try:
            sns.confirm_subscription(envelope, settings.sns_cert_url_pattern)
        except (sns.BadSignature, OSError) as error:
            raise WebhookRejected(502, "could not confirm the SNS subscription") from error
        return []
    if envelope.get("Type") != "Notification":
        return []
    notification = _json(str(envelope.get("Message", "")).encode("utf-8"))
    return list(ses.reports(notification, str(envelope.get("MessageId", "")))) if isinstance(notification, dict) else []


def postmark_reports(body: bytes, headers: HeaderSource, settings: WebhookSettings) -> list[Report]:
    if not settings.postmark_auth:
        raise WebhookRejected(404, "the postmark webhook is not configured")
    scheme, _, encoded = str(headers.get("Authorization", "")).partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True).decode("utf-8") if scheme.lower() == "basic" else ""
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    if not _same(given, settings.postmark_auth):
        raise WebhookRejected(401, "wrong or missing credentials")
    event = _json(body)
    if not isinstance(event, dict):
        raise WebhookRejected(400, "expected a Postmark webhook object")
    return _postmark_event(event)


def _postmark_event(event: Mapping[str, Any]) -> list[Report]:
    record_type = str(event.get("RecordType") or "")
    email_address = event.get("Email") if isinstance(event.get("Email"), str) else event.get("Recipient")
    recipient = email_address if isinstance(email_address, str) else None
    key = ses.key("postmark", event.get("ID"), record_type, email_address, event.get("ChangedAt"))
    if record_type == "SubscriptionChange":
        if event.get("SuppressSending") is not True:
            return []  # a reactivation: Postmark lifts its own block; ours is lifted by an operator
        origin = str(event.get("SuppressionReason") or "ManualSuppression")
        kind = BounceKind.COMPLAINT if origin == "SpamComplaint" else BounceKind.UNSUBSCRIBE
        if origin == "HardBounce":
            kind = BounceKind.HARD
        return [Report(kind, key, diagnostic=f"postmark: {origin}", recipient=recipient, reason=origin[:32])]
    details = str(event.get("Details") or event.get("Description") or "")[:1000] or None
    kind, reason = _postmark_meaning(str(event.get("Type")), details)
    status = "5.0.0" if kind == BounceKind.HARD else "4.0.0" if kind == BounceKind.SOFT else None
    return [Report(kind, key, status=status, diagnostic=details, recipient=recipient, reason=reason)]


def _postmark_meaning(event_type: str, details: str | None) -> tuple[BounceKind, str | None]:
    """Postmark's type, corrected by the details where they say the failure is about us (or temporary)."""
    kind, reason = POSTMARK_KINDS.get(event_type, (BounceKind.UNRECOGNISED, None))
    if kind not in (BounceKind.HARD, BounceKind.SOFT) or not details or classify.by_text(details) is None:
        return kind, reason
    verdict = classify.classify(None, details)
    if verdict.kind is BounceKind.ABOUT_US or (kind is BounceKind.SOFT and verdict.kind is not BounceKind.HARD):
        return verdict.kind, verdict.reason
    return kind, reason


def generic_reports(body: bytes, headers: HeaderSource, settings: WebhookSettings) -> list[Report]:
    if not settings.generic_token:
        raise WebhookRejected(404, "the generic webhook is not configured")
    scheme, _, token = str(headers.get("Authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not _same(token.strip(), settings.generic_token):
        raise WebhookRejected(401, "wrong or missing bearer token")
    payload = _json(body)
    events = payload.get("events") if isinstance(payload, dict) and "events" in payload else [payload]
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise WebhookRejected(400, 'expected {"events": [ … ]} or one event object')
    reports = []
    for number, event in enumerate(events):
        kind = GENERIC_KINDS.get(str(event.get("type")))
        if kind is None:
            raise WebhookRejected(422, f"event {number}: type must be one of {', '.join(GENERIC_KINDS)}")
        text = {
            name: event.get(name) if isinstance(event.get(name), str) else None
            for name in ("return_path", "message_id", "status", "diagnostic")
        }
        reports.append(
            Report(
                kind,
                ses.key("generic", event.get("id") or event),
                status=valid_status(text["status"]),
                diagnostic=(text["diagnostic"] or "")[:1000] or None,
                original_message_id=text["message_id"],
                addresses=(text["return_path"],) if text["return_path"] else (),
            )
        )
    return reports


PROVIDERS: dict[str, Callable[[bytes, HeaderSource, WebhookSettings], list[Report]]] = {
    "ses": ses_reports,
    "postmark": postmark_reports,
    "generic": generic_reports,
}


def reports_for(provider: str, body: bytes, headers: HeaderSource, settings: WebhookSettings) -> list[Report]:
    """The reports in one webhook request (raises WebhookRejected); nothing is recorded here."""
    reader = PROVIDERS.get(provider)
    if reader is None:
        raise WebhookRejected(404, "unknown provider")
    return reader(body, headers, settings)
