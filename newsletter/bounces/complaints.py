"""Complaints and opt-outs from feedback loops: ARF (RFC 5965), Microsoft JMRP, SES notifications by email.

ARF `abuse` and `fraud` are complaints (suppress and unsubscribe); `opt-out` (and `opt-out-list`) only
unsubscribes; `not-spam`, `auth-failure`, `virus` and `other` need nothing from us.
"""

from __future__ import annotations

import email
import json
from dataclasses import dataclass
from email.message import Message
from typing import Any

from newsletter.bounces import dsn
from newsletter.models.bounces import BounceKind

FEEDBACK_KINDS = {
    "abuse": BounceKind.COMPLAINT,
    "fraud": BounceKind.COMPLAINT,
    "opt-out": BounceKind.UNSUBSCRIBE,
    "opt-out-list": BounceKind.UNSUBSCRIBE,
    "not-spam": BounceKind.IGNORED,
    "auth-failure": BounceKind.IGNORED,
    "virus": BounceKind.IGNORED,
    "other": BounceKind.IGNORED,
}
JMRP_HEADERS = ("X-HmXmrOriginalRecipient",)
JMRP_SENDERS = ("staff@hotmail.com",)
SES_JSON_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Feedback:
    kind: BounceKind
    feedback_type: str


def arf(message: Message) -> Feedback | None:
    """An ARF report's feedback type and what it means for us."""
    for part in dsn.parts(message):
        if part.get_content_type() != "message/feedback-report":
            continue
        feedback_type = _feedback_fields(part).get("feedback-type", "").strip().lower() or "missing"
        return Feedback(FEEDBACK_KINDS.get(feedback_type, BounceKind.UNRECOGNISED), feedback_type)
    return None


def _feedback_fields(part: Message) -> dict[str, str]:
    payload = part.get_payload()
    if isinstance(payload, list):  # parsed as header blocks, like message/delivery-status
        blocks = [block for block in payload if isinstance(block, Message)]
        return {name.lower(): str(value) for block in blocks for name, value in block.items()}
    decoded = part.get_payload(decode=True)
    if isinstance(decoded, bytes):
        payload = decoded.decode("utf-8", "replace")
    text = payload if isinstance(payload, str) else ""
    return {name.lower(): str(value) for name, value in email.message_from_string(text).items()}


def jmrp(message: Message) -> Feedback | None:
    """Microsoft's junk-mail reporting programme: the original attached, marked by Hotmail's headers."""
    sender = email.utils.parseaddr(str(message.get("From", "")))[1].lower()
    original = dsn.original(message)
    marked = any(message.get(name) for name in JMRP_HEADERS) or (
        original is not None and any(original.get(name) for name in JMRP_HEADERS)
    )
    if marked or (sender in JMRP_SENDERS and original is not None):
        return Feedback(BounceKind.COMPLAINT, "jmrp")
    return None


def ses_notification(message: Message) -> dict[str, Any] | None:
    """An Amazon SES notification delivered by email: its body is the notification's JSON."""
    for part in dsn.parts(message):
        if part.get_content_maintype() != "text":
            continue
        body = dsn.payload_bytes(part)[:SES_JSON_LIMIT].strip()
        if not body.startswith(b"{") or b"notificationType" not in body:
            continue
        try:
            notification = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if isinstance(notification, dict) and notification.get("notificationType") in ("Bounce", "Complaint"):
            return notification
    return None
