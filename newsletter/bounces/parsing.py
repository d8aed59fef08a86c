"""Reading a bounce or complaint message into one `Report`: complaints first, then a DSN's structure, then
the prose formats, then auto-replies.

Pure functions of the message bytes, and total: any message, however broken or deeply nested, gives a
report (kind `unrecognised` when nothing can be read), never an exception.
"""

from __future__ import annotations

import email
import email.utils
import re
from email import policy
from email.message import Message

from newsletter.bounces import classify, complaints, dsn, families, ses
from newsletter.bounces.report import Report, report_key
from newsletter.models.bounces import BounceKind

__all__ = ["Report", "parse", "report_key"]

QUOTED_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
MAX_NESTING = 60
"""MIME nesting deeper than this is no report any mail system writes; reading it would only recurse."""


def parse(raw: bytes) -> Report:
    """The report in `raw`; formats it cannot read give kind `unrecognised`, never an exception."""
    key = report_key(raw)
    try:
        if _nesting(raw) > MAX_NESTING:
            return Report(BounceKind.UNRECOGNISED, key, reason="too_deeply_nested")
        message = email.message_from_bytes(raw, policy=policy.compat32)
        return _read(message, key)
    except (RecursionError, MemoryError):
        return Report(BounceKind.UNRECOGNISED, key, reason="too_deeply_nested")
    except Exception:  # noqa: BLE001 (a report is outside input: whatever breaks the reading, it is kept, not raised)
        return Report(BounceKind.UNRECOGNISED, key, reason="unreadable")


def _nesting(raw: bytes) -> int:
    """How many multipart boundaries the message declares (a bound on its nesting depth, cheap to count)."""
    return len(re.findall(rb"(?im)^content-type:\s*(?:multipart|message)/", raw[: 4 * 1024 * 1024]))


def _read(message: Message, key: str) -> Report:
    feedback = complaints.arf(message) or complaints.jmrp(message)
    if feedback is not None:
        return _with_original(
            message,
            key,
            feedback.kind,
            diagnostic=f"feedback-type: {feedback.feedback_type}",
            reason=feedback.feedback_type,
        )
    notification = complaints.ses_notification(message)
    if notification is not None:
        found = list(ses.reports(notification, key))
        if found:
            first = found[0]
            return _with_original(
                message,
                key,
                first.kind,
                status=first.status,
                diagnostic=first.diagnostic,
                reason=first.reason,
                message_id=first.original_message_id,
                extra=first.addresses,
            )
    blocks = dsn.recipient_blocks(message)
    if blocks:
        return _from_dsn(message, key, blocks)
    failure = families.failure(message)
    if failure is not None:
        return _from_failure(message, key, failure)
    if families.auto_reply(message):
        return Report(BounceKind.IGNORED, key, reason="auto_reply", addresses=tuple(_header_addresses(message)))
    return Report(BounceKind.UNRECOGNISED, key, addresses=tuple(_header_addresses(message)))


def _from_dsn(message: Message, key: str, blocks: list[dsn.RecipientStatus]) -> Report:
    failed = [block for block in blocks if block.failed]
    if not failed:
        action = blocks[0].action.split()[0] if blocks[0].action else "delayed"
        return _with_original(
            message, key, BounceKind.IGNORED, status=blocks[0].status, diagnostic=blocks[0].diagnostic, reason=action
        )
    block = failed[0]
    own = dsn.own_text(message)
    verdict = classify.decide(block.status, block.diagnostic, (families.reply_lines(own) or "", own))
    return _with_original(
        message, key, verdict.kind, status=block.status or "5.0.0", diagnostic=block.diagnostic, reason=verdict.reason
    )


def _from_failure(message: Message, key: str, failure: families.Failure) -> Report:
    if failure.warning:
        return _with_original(message, key, BounceKind.IGNORED, diagnostic=failure.diagnostic, reason="delayed")
    verdict = classify.decide(failure.status, failure.diagnostic, (failure.text,))
    return _with_original(
        message,
        key,
        verdict.kind,
        status=failure.status or "5.0.0",
        diagnostic=failure.diagnostic or " ".join(failure.text.split())[:1000] or None,
        reason=verdict.reason,
    )


def _header_addresses(message: Message) -> list[str]:
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        for value in message.get_all(name, []):
            found.extend(address for _, address in email.utils.getaddresses([str(value)]) if address)
    return found


def _with_original(
    message: Message,
    key: str,
    kind: BounceKind,
    *,
    message_id: str | None = None,
    extra: tuple[str, ...] = (),
    status: str | None = None,
    diagnostic: str | None = None,
    reason: str | None = None,
) -> Report:
    original = dsn.original(message)
    addresses = _header_addresses(message) + list(extra)
    if original is not None:
        message_id = message_id or (str(original.get("Message-ID") or "").strip() or None)
        addresses += [
            address for _, address in email.utils.getaddresses([str(v) for v in original.get_all("Return-Path", [])])
        ]
    elif message_id is None:  # a plain-text notice quoting the original below its own text
        quoted = QUOTED_MESSAGE_ID.search(dsn.quoted_text(message))
        message_id = quoted.group(1) if quoted else None
    return Report(
        kind,
        key,
        original_message_id=message_id,
        addresses=tuple(addresses),
        has_original=original is not None,
        status=status,
        diagnostic=diagnostic,
        reason=reason,
    )
