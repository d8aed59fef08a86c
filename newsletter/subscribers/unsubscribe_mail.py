"""Unsubscribing by email: the `List-Unsubscribe: <mailto:…?subject=unsubscribe%20TOKEN>` requests.

Messages are read from a maildir (only `new/`; each one handled is moved to `cur/`, marked seen) or an
mbox file (emptied of the messages handled), so a second run does nothing. A message counts only if
its Subject or a text part carries a genuine unsubscribe token; the token, not the sender, decides.
"""

from __future__ import annotations

import email
import email.errors
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

from newsletter.core import mail_folders, tokens
from newsletter.models import Subscriber
from newsletter.models.subscribers import UNSUBSCRIBED
from newsletter.subscribers import subscriptions

TOKEN = re.compile(r"\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_SCANNED_CHARACTERS = 64 * 1024
UNREADABLE = (LookupError, ValueError, UnicodeError, email.errors.MessageError)


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


def subscriber_in(raw: bytes, secret: str) -> Subscriber | None:
    """The subscriber whose genuine unsubscribe token the message carries, if any."""
    for token in _candidate_tokens(raw):
        try:
            return subscriptions.subscriber_for_link(tokens.UNSUBSCRIBE, token, secret)
        except tokens.TokenInvalid:
            continue
    return None


def _handle(raw: bytes, name: str, report: MailReport, secret: str) -> None:
    subscriber = subscriber_in(raw, secret)
    if subscriber is None:
        report.without_token.append(name)
    elif subscriber.status == UNSUBSCRIBED:
        report.already_unsubscribed += 1
    else:
        subscriptions.unsubscribe(subscriber)
        report.unsubscribed += 1


def process_maildir(path: Path, secret: str) -> MailReport:
    """Handle every message in new/, moving each to cur/ (seen) once handled."""
    report = MailReport()
    mail_folders.handle_maildir(path, lambda raw, name: _handle(raw, name, report, secret))
    return report


def process_mbox(path: Path, secret: str) -> MailReport:
    """Handle every message in the mbox file and remove the ones handled."""
    report = MailReport()
    mail_folders.handle_mbox(path, lambda raw, name: _handle(raw, name, report, secret))
    return report
