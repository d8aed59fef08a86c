"""`POST /webhooks/bounces/<provider>`: providers' HTTP reports turned into the parser's `Report`s.

- `ses`: Amazon SES notifications delivered by SNS; the SNS signature is verified first.
- `postmark`: Postmark's bounce and spam-complaint webhooks, behind HTTP basic auth.
- `generic`: `{"events": [{"id", "type": "hard|soft|complaint", "return_path", "message_id", "status",
  "diagnostic"}]}` (or one such object), behind a bearer token; see the README.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from newsletter.bounces import sns
from newsletter.bounces.parsing import Report, kind_of_status, valid_status
from newsletter.models import BounceKind

POSTMARK_KINDS = {
    "HardBounce": BounceKind.HARD,
    "BadEmailAddress": BounceKind.HARD,
    "ManuallyDeactivated": BounceKind.HARD,
    "SoftBounce": BounceKind.SOFT,
    "Transient": BounceKind.SOFT,
    "DnsError": BounceKind.SOFT,
    "SpamComplaint": BounceKind.COMPLAINT,
}
GENERIC_KINDS = {"hard": BounceKind.HARD, "soft": BounceKind.SOFT, "complaint": BounceKind.COMPLAINT}


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

    @classmethod
    def from_config(cls, config) -> WebhookSettings:
        def text(name: str) -> str | None:  # a token of digits arrives as a number from the environment
            value = config.get(name)
            return None if value in (None, "") else str(value)

        return cls(str(config["SNS_CERT_URL_PATTERN"]), text("POSTMARK_WEBHOOK_AUTH"), text("BOUNCE_WEBHOOK_TOKEN"))


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise WebhookRejected(400, "the body is not JSON") from error


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def ses_reports(body: bytes, headers, settings: WebhookSettings) -> list[Report]:
    envelope = _json(body)
    if not isinstance(envelope, dict):
        raise WebhookRejected(400, "expected an SNS message object")
    try:
        sns.verify(envelope, settings.sns_cert_url_pattern)
    except sns.BadSignature as error:
        raise WebhookRejected(403, str(error)) from error
    if envelope.get("Type") == "SubscriptionConfirmation":
        try:
            sns.confirm_subscription(envelope, settings.sns_cert_url_pattern)
        except (sns.BadSignature, OSError) as error:
            raise WebhookRejected(502, "could not confirm the SNS subscription") from error
        return []
    if envelope.get("Type") != "Notification":
        return []
    notification = _json(str(envelope.get("Message", "")).encode("utf-8"))
    return (
        list(_ses_notification(notification, str(envelope.get("MessageId", ""))))
        if isinstance(notification, dict)
        else []
    )


def _ses_message_id(mail: dict) -> str | None:
    common = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    if isinstance(common.get("messageId"), str):
        return common["messageId"]
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value"))
    return None


def _ses_notification(notification: dict, sns_id: str) -> Iterator[Report]:
    kind_name = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail") if isinstance(notification.get("mail"), dict) else {}
    addresses = tuple(str(mail[name]) for name in ("source", "returnPath") if isinstance(mail.get(name), str))
    common = {"original_message_id": _ses_message_id(mail), "addresses": addresses}
    if kind_name == "Bounce" and isinstance(notification.get("bounce"), dict):
        bounce = notification["bounce"]
        for recipient in bounce.get("bouncedRecipients") or []:
            status = valid_status(recipient.get("status")) or (
                "5.0.0" if bounce.get("bounceType") == "Permanent" else "4.0.0"
            )
            kind = kind_of_status(status)
            if bounce.get("bounceType") == "Transient" or bounce.get("bounceSubType") == "MailboxFull":
                kind = BounceKind.SOFT
            yield Report(
                kind,
                _key("ses", sns_id, recipient.get("emailAddress")),
                status=status,
                diagnostic=str(recipient.get("diagnosticCode") or "")[:1000] or None,
                **common,
            )
    elif kind_name == "Complaint" and isinstance(notification.get("complaint"), dict):
        complaint = notification["complaint"]
        feedback = str(complaint.get("complaintFeedbackType") or "abuse")
        yield Report(BounceKind.COMPLAINT, _key("ses", sns_id), diagnostic=f"feedback-type: {feedback}", **common)


def postmark_reports(body: bytes, headers, settings: WebhookSettings) -> list[Report]:
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
    kind = POSTMARK_KINDS.get(str(event.get("Type")), BounceKind.UNRECOGNISED)
    details = str(event.get("Details") or event.get("Description") or "")[:1000] or None
    status = "5.0.0" if kind == BounceKind.HARD else "4.0.0" if kind == BounceKind.SOFT else None
    email_address = event.get("Email")
    return [
        Report(
            kind,
            _key("postmark", event.get("ID"), event.get("RecordType"), email_address),
            status=status,
            diagnostic=details,
            recipient=email_address if isinstance(email_address, str) else None,
        )
    ]


def generic_reports(body: bytes, headers, settings: WebhookSettings) -> list[Report]:
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
            raise WebhookRejected(422, f"event {number}: type must be hard, soft or complaint")
        text = {
            name: event.get(name) if isinstance(event.get(name), str) else None
            for name in ("return_path", "message_id", "status", "diagnostic")
        }
        reports.append(
            Report(
                kind,
                _key("generic", event.get("id") or event),
                status=valid_status(text["status"]),
                diagnostic=(text["diagnostic"] or "")[:1000] or None,
                original_message_id=text["message_id"],
                addresses=(text["return_path"],) if text["return_path"] else (),
            )
        )
    return reports


PROVIDERS: dict[str, Callable[[bytes, object, WebhookSettings], list[Report]]] = {
    "ses": ses_reports,
    "postmark": postmark_reports,
    "generic": generic_reports,
}


def reports_for(provider: str, body: bytes, headers, settings: WebhookSettings) -> list[Report]:
    """The reports in one webhook request (raises WebhookRejected); nothing is recorded here."""
    reader = PROVIDERS.get(provider)
    if reader is None:
        raise WebhookRejected(404, "unknown provider")
    return reader(body, headers, settings)
