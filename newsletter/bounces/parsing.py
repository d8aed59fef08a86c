"""Reading a bounce or complaint message: RFC 3464 DSNs, RFC 5965 ARF reports, and flufl.bounce's formats.

Pure functions of the message bytes. flufl.bounce (Mailman's detector) finds failed recipients in the
common non-standard formats and tells temporary from permanent; the status code and diagnostic come from
the DSN fields where there are any, else from the text.
"""

from __future__ import annotations

import email
import email.errors
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message

from flufl.bounce import all_failures

from newsletter.models.bounces import BounceKind

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
QUOTED_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
REPLY_LINE = re.compile(r"^.*\b[45]\d\d\b.*$", re.MULTILINE)
COMPLAINT_TYPES = ("abuse", "fraud")
MAILBOX_FULL = ("5.2.2",)
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
DIAGNOSTIC_LENGTH = 1000
SCANNED_CHARACTERS = 64 * 1024


@dataclass(frozen=True)
class Report:
    """What one report says: the kind, the status and diagnostic, and what may name the delivery."""

    kind: BounceKind
    key: str
    status: str | None = None
    diagnostic: str | None = None
    original_message_id: str | None = None
    addresses: tuple[str, ...] = field(default_factory=tuple)
    """Addresses that may be our VERP sender: the report's own recipients and the original's Return-Path."""
    has_original: bool = True
    recipient: str | None = None
    """The bounced address as a provider states it (Postmark): the last resort when nothing else names it."""


def report_key(raw: bytes) -> str:
    """A digest of the report itself: the same message read twice is recorded once."""
    return hashlib.sha256(raw).hexdigest()


def valid_status(text: object) -> str | None:
    """`text` if it is an enhanced status code such as 5.1.1, else None."""
    match = STATUS.fullmatch(text.strip()) if isinstance(text, str) else None
    return ".".join(match.groups()) if match else None


def kind_of_status(status: str) -> BounceKind:
    """5.x.x is hard, except a full mailbox; 4.x.x is soft."""
    if status.startswith("5") and status not in MAILBOX_FULL:
        return BounceKind.HARD
    return BounceKind.SOFT


def parse(raw: bytes) -> Report:
    """The report in `raw`; formats it cannot read give kind `unrecognised`, never an exception."""
    key = report_key(raw)
    try:
        message = email.message_from_bytes(raw, policy=policy.compat32)
        return _complaint(message, key) or _dsn(message, key) or _heuristic(message, key)
    except (LookupError, ValueError, UnicodeError, email.errors.MessageError, AttributeError, TypeError):
        return Report(BounceKind.UNRECOGNISED, key)


def _header_addresses(message: Message) -> list[str]:
    found = []
    for name in RECIPIENT_HEADERS:
        for value in message.get_all(name, []):
            found.extend(address for _, address in email.utils.getaddresses([str(value)]) if address)
    return found


def _original(message: Message) -> Message | None:
    """The returned original message or its headers (message/rfc822 or text/rfc822-headers), if attached."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822" and part.is_multipart():
            return part.get_payload(0)
        if content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            return email.message_from_string(
                part.get_payload(decode=True).decode("utf-8", "replace"), policy=policy.compat32
            )
    return None


def _with_original(message: Message, key: str, kind: BounceKind, **values) -> Report:
    original = _original(message)
    addresses = _header_addresses(message)
    message_id = None
    if original is not None:
        message_id = (original.get("Message-ID") or "").strip() or None
        addresses += [address for _, address in email.utils.getaddresses(original.get_all("Return-Path", []))]
    else:  # a plain-text notice quoting the original below its own text
        quoted = QUOTED_MESSAGE_ID.search(_text_of(message))
        message_id = quoted.group(1) if quoted else None
    return Report(
        kind,
        key,
        original_message_id=message_id,
        addresses=tuple(addresses),
        has_original=original is not None,
        **values,
    )


def _complaint(message: Message, key: str) -> Report | None:
    """An ARF report (RFC 5965): `feedback-type: abuse` (or fraud) is a complaint."""
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = _feedback_fields(part)
        feedback_type = fields.get("feedback-type", "").strip().lower()
        kind = BounceKind.COMPLAINT if feedback_type in COMPLAINT_TYPES else BounceKind.UNRECOGNISED
        return _with_original(message, key, kind, diagnostic=f"feedback-type: {feedback_type or 'missing'}")
    return None


def _feedback_fields(part: Message) -> dict[str, str]:
    payload = part.get_payload()
    if isinstance(payload, list):  # parsed as header blocks, like message/delivery-status
        return {name.lower(): str(value) for block in payload for name, value in block.items()}
    text = payload if isinstance(payload, str) else ""
    return {name.lower(): value for name, value in email.message_from_string(text).items()}


def _dsn(message: Message, key: str) -> Report | None:
    """An RFC 3464 delivery status notification: the first failed or delayed recipient block."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            action = str(block.get("Action", "")).strip().lower()
            if not action.startswith(("failed", "delayed", "error")):
                continue
            status_match = STATUS.search(str(block.get("Status", "")))
            if status_match is None:
                status = "4.0.0" if action.startswith("delayed") else "5.0.0"
            else:
                status = ".".join(status_match.groups())
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split()) or None
            return _with_original(
                message,
                key,
                kind_of_status(status),
                status=status,
                diagnostic=diagnostic[:DIAGNOSTIC_LENGTH] if diagnostic else None,
            )
    return None


def _heuristic(message: Message, key: str) -> Report:
    """The non-standard formats flufl.bounce knows; anything else is unrecognised (and kept)."""
    temporary, permanent = all_failures(message)
    if not temporary and not permanent:
        return Report(BounceKind.UNRECOGNISED, key, addresses=tuple(_header_addresses(message)))
    text = _text_of(message)
    status_match = STATUS.search(text)
    status = ".".join(status_match.groups()) if status_match else ("5.0.0" if permanent else "4.0.0")
    reply = REPLY_LINE.search(text)
    diagnostic = " ".join(reply.group(0).split())[:DIAGNOSTIC_LENGTH] if reply else None
    kind = kind_of_status(status) if status_match else (BounceKind.HARD if permanent else BounceKind.SOFT)
    return _with_original(message, key, kind, status=status, diagnostic=diagnostic)


def _text_of(message: Message) -> str:
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode("utf-8", "replace"))
    return "\n".join(texts)[:SCANNED_CHARACTERS]
