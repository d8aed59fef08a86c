"""Unsubscribing by email: the `List-Unsubscribe: <mailto:…?subject=unsubscribe%20TOKEN>` requests.

Messages are read from a maildir (only `new/`; each one handled is moved to `cur/`, marked seen) or an
mbox file (emptied of the messages handled), so a second run does nothing. A message counts only if
its Subject or a text part carries a genuine unsubscribe token; the token, not the sender, decides.
"""
from __future__ import annotations

import email
import email.errors
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

from . import subscriptions, tokens
from .models import Subscriber
from .models.subscribers import UNSUBSCRIBED

TOKEN = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_SCANNED_CHARACTERS = 64 * 1024
UNREADABLE = (LookupError, ValueError, UnicodeError, email.errors.MessageError)


class NotAMailbox(ValueError):
    """The path is not a maildir (no new/ and cur/ folders) or not a readable mbox file."""


@dataclass
class MailReport:
    unsubscribed: int = 0
    already_unsubscribed: int = 0
    without_token: list[str] = field(default_factory=list)


def _texts(raw: bytes) -> Iterator[str]:
    """The Subject, then each text/plain part, decoded."""
    message = email.message_from_bytes(raw, policy=policy.default)
    yield str(message.get("Subject", ""))
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            try:
                yield part.get_content()
            except UNREADABLE:
                continue


def _candidate_tokens(raw: bytes) -> list[str]:
    try:
        return [token for text in _texts(raw) for token in TOKEN.findall(text[:MAX_SCANNED_CHARACTERS])]
    except UNREADABLE:
        return []


def subscriber_in(raw: bytes) -> Subscriber | None:
    """The subscriber whose genuine unsubscribe token the message carries, if any."""
    for token in _candidate_tokens(raw):
        try:
            return subscriptions.subscriber_for_link(tokens.UNSUBSCRIBE, token)
        except tokens.TokenInvalid:
            continue
    return None


def _handle(raw: bytes, name: str, report: MailReport) -> None:
    subscriber = subscriber_in(raw)
    if subscriber is None:
        report.without_token.append(name)
    elif subscriber.status == UNSUBSCRIBED:
        report.already_unsubscribed += 1
    else:
        subscriptions.unsubscribe(subscriber)
        report.unsubscribed += 1


def process_maildir(path: Path) -> MailReport:
    """Handle every message in new/, moving each to cur/ (seen) once handled."""
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        raise NotAMailbox(f"{path} is not a maildir (it needs new/ and cur/ folders)")
    box = mailbox.Maildir(str(path), factory=None, create=False)
    report = MailReport()
    arrived = (entry.name.split(box.colon)[0] for entry in (path / "new").iterdir() if not entry.name.startswith("."))
    for key in sorted(arrived):
        message = box.get_message(key)
        _handle(box.get_bytes(key), key, report)
        message.set_subdir("cur")
        message.add_flag("S")
        box[key] = message
    return report


def process_mbox(path: Path) -> MailReport:
    """Handle every message in the mbox file and remove the ones handled."""
    try:
        box = mailbox.mbox(str(path), create=False)
    except (mailbox.Error, OSError) as error:
        raise NotAMailbox(f"{path} cannot be read as an mbox file") from error
    report = MailReport()
    try:
        box.lock()
    except mailbox.ExternalClashError as error:
        box.close()
        raise NotAMailbox(f"{path} is locked by another program; try again later") from error
    try:
        for number, key in enumerate(list(box.keys()), start=1):
            _handle(box.get_bytes(key), f"#{number}", report)
            box.remove(key)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return report
