"""Amazon SES notifications (bounce, complaint), whether they come by SNS or by email.

SES says `Permanent` for blocks of the sender too, so the diagnostic is classified first; SES's own bounce
type decides only when the diagnostic says nothing we know.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from newsletter.bounces.classify import by_text, classify
from newsletter.bounces.dsn import valid_status
from newsletter.bounces.report import Report
from newsletter.models.bounces import BounceKind

SUBTYPES = {
    ("Permanent", "General"): (BounceKind.HARD, "no_such_address"),
    ("Permanent", "NoEmail"): (BounceKind.HARD, "no_such_address"),
    ("Permanent", "Suppressed"): (BounceKind.HARD, "no_such_address"),
    ("Permanent", "OnAccountSuppressionList"): (BounceKind.HARD, "no_such_address"),
    ("Transient", "MailboxFull"): (BounceKind.SOFT, "mailbox_full"),
    ("Transient", "MessageTooLarge"): (BounceKind.ABOUT_US, "message_size"),
    ("Transient", "ContentRejected"): (BounceKind.ABOUT_US, "spam"),
    ("Transient", "AttachmentRejected"): (BounceKind.ABOUT_US, "spam"),
}
IGNORED_FEEDBACK = ("not-spam", "auth-failure", "virus")


def key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def message_id(mail: Mapping[str, Any]) -> str | None:
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and isinstance(common.get("messageId"), str):
        return str(common["messageId"])
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value"))
    return None


def _bounce_verdict(bounce: Mapping[str, Any], status: str | None, diagnostic: str | None) -> tuple[BounceKind, str]:
    if diagnostic and by_text(diagnostic) is not None:
        verdict = classify(status, diagnostic)
        return verdict.kind, verdict.reason
    known = SUBTYPES.get((str(bounce.get("bounceType")), str(bounce.get("bounceSubType"))))
    if known is not None:
        return known
    if bounce.get("bounceType") == "Permanent":
        return BounceKind.HARD, "no_such_address"
    verdict = classify(status if status and status.startswith("4") else None, diagnostic, permanent=False)
    return (verdict.kind if verdict.kind is not BounceKind.HARD else BounceKind.SOFT), verdict.reason


def reports(notification: Mapping[str, Any], notification_id: str) -> Iterator[Report]:
    """The reports in one SES notification (the JSON SES sends, by SNS or by email)."""
    kind_name = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail")
    if not isinstance(mail, dict):
        mail = {}
    addresses = tuple(str(mail[name]) for name in ("source", "returnPath") if isinstance(mail.get(name), str))
    original_message_id = message_id(mail)
    if kind_name == "Bounce" and isinstance(notification.get("bounce"), dict):
        bounce = notification["bounce"]
        for recipient in bounce.get("bouncedRecipients") or []:
            if not isinstance(recipient, dict):
                continue
            status = valid_status(recipient.get("status"))
            diagnostic = str(recipient.get("diagnosticCode") or "") or None
            kind, reason = _bounce_verdict(bounce, status, diagnostic)
            yield Report(
                kind,
                key("ses", notification_id, recipient.get("emailAddress")),
                status=status or ("5.0.0" if bounce.get("bounceType") == "Permanent" else "4.0.0"),
                diagnostic=diagnostic,
                reason=reason,
                original_message_id=original_message_id,
                addresses=addresses,
            )
    elif kind_name == "Complaint" and isinstance(notification.get("complaint"), dict):
        complaint = notification["complaint"]
        feedback = str(complaint.get("complaintFeedbackType") or "abuse").lower()
        kind = BounceKind.IGNORED if feedback in IGNORED_FEEDBACK else BounceKind.COMPLAINT
        yield Report(
            kind,
            key("ses", notification_id),
            diagnostic=f"feedback-type: {feedback}",
            reason=feedback,
            original_message_id=original_message_id,
            addresses=addresses,
        )
