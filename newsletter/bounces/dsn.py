"""Reading a report by its structure: RFC 3464 per-recipient blocks, the returned original, the report's own text.

Codes are taken only from where a report states them: the `Status` and `Diagnostic-Code` fields of a DSN's
per-recipient block, or the report's own text for formats without one. Never from the report's headers
or the returned original, where "2.0.13" in a `Received:` line or a mailer's version looks like a status.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import Message

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
COUNTING_ACTIONS = ("failed", "failure", "error")
"""Only `failed` is a bounce (and the `failure`/`error` some old MTAs wrote for it); `delayed`, `delivered`,
`relayed` and `expanded` are news, never a failure."""
ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
QUOTED_ORIGINAL = re.compile(
    r"^\s*(?:-+\s*)?(?:"
    r"this is a copy of the message|below this line is a copy of the message|original message follows|"
    r"original message headers|unsent message below|returned message follows|"
    r"-+ ?(?:original|returned) message ?-+|"
    r"received: from |return-path: <"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
TEXT_LIMIT = 16 * 1024
MAX_PARTS = 200


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    action: str
    status: str | None
    diagnostic: str | None
    recipient: str | None

    @property
    def failed(self) -> bool:
        return self.action.startswith(COUNTING_ACTIONS)


def valid_status(text: object) -> str | None:
    """`text` if it is an enhanced status code such as 5.1.1, else None."""
    match = STATUS.fullmatch(text.strip()) if isinstance(text, str) else None
    return ".".join(match.groups()) if match else None


def first_status(text: str) -> str | None:
    match = STATUS.search(text)
    return ".".join(match.groups()) if match else None


def parts(message: Message) -> list[Message]:
    """The message's parts, top first, without descending into a returned original, at most MAX_PARTS."""
    found: list[Message] = []
    stack = [message]
    while stack and len(found) < MAX_PARTS:
        part = stack.pop()
        found.append(part)
        if part.get_content_type() in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([child for child in payload if isinstance(child, Message)]))
    return found


def payload_bytes(part: Message) -> bytes:
    """A part's decoded body; empty when it has none (a multipart part)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _field(block: Message, name: str) -> str:
    return " ".join(str(block.get(name, "") or "").split())


def _address(value: str) -> str | None:
    """`rfc822; someone@example.org` → someone@example.org."""
    _, _, address = value.partition(";")
    address = (address or value).strip().strip("<>")
    return address or None


def recipient_blocks(message: Message) -> list[RecipientStatus] | None:
    """The per-recipient blocks of the report's DSN part; None when there is no DSN part at all."""
    for part in parts(message):
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = _blocks_of(part)
        found = []
        for block in blocks:
            action = _field(block, "Action").lower()
            if not action:
                continue  # the per-message block (Reporting-MTA, Arrival-Date)
            diagnostic = _field(block, "Diagnostic-Code")
            _, _, diagnostic_text = diagnostic.partition(";")
            found.append(
                RecipientStatus(
                    action,
                    first_status(_field(block, "Status")),
                    (diagnostic_text or diagnostic).strip() or None,
                    _address(_field(block, "Final-Recipient") or _field(block, "Original-Recipient")),
                )
            )
        return found
    return None


def _blocks_of(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = payload if isinstance(payload, str) else ""
    return [email.message_from_string(chunk.strip() + "\n") for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]


def original(message: Message) -> Message | None:
    """The returned original message or its headers (message/rfc822 or text/rfc822-headers), if attached."""
    for part in parts(message):
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str):
                return email.message_from_string(payload, policy=policy.compat32)
        if content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            raw = payload_bytes(part)
            return email.message_from_string(raw.decode("utf-8", "replace"), policy=policy.compat32)
    return None


def own_text(message: Message) -> str:
    """The report's own words: its text parts outside the returned original, cut where a quoted copy begins."""
    texts = []
    for part in parts(message):
        if part.get_content_maintype() != "text" or part.get_content_type() in ORIGINAL_TYPES:
            continue
        payload = payload_bytes(part)
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, "replace")
        except LookupError:
            text = payload.decode("utf-8", "replace")
        if part.get_content_subtype() == "html":
            text = re.sub(r"<[^>]{0,2000}>", " ", text)
        quoted = QUOTED_ORIGINAL.search(text)
        texts.append(text[: quoted.start()] if quoted else text)
        if sum(len(chunk) for chunk in texts) > TEXT_LIMIT:
            break
    return "\n".join(texts)[:TEXT_LIMIT]


def quoted_text(message: Message) -> str:
    """The text parts whole (a plain-text notice quotes the original below its own words)."""
    texts = []
    for part in parts(message):
        if part.get_content_maintype() == "text":
            texts.append(payload_bytes(part).decode("utf-8", "replace"))
    return "\n".join(texts)[: 4 * TEXT_LIMIT]
