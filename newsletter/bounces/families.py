"""Reports without a DSN part: the mail systems that write failures as prose (qmail, Exim, old Sendmail,
Notes, GroupWise, Exchange and Office 365, Yahoo, OpenSMTPD, forwarded reports), warnings and auto-replies.

flufl.bounce (Mailman's detectors) finds the failed addresses where it knows the format; past that, a report
is a failure when it comes from a mail system (sender or subject) and says so in its own words. The reason is
read from the lines that carry the remote server's reply, else from the report's own text; never from its
headers or the quoted original.
"""

from __future__ import annotations

import email.utils
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

from newsletter.bounces import dsn

logging.getLogger("flufl.bounce").setLevel(logging.WARNING)  # its per-detector lines name addresses

AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply")
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|answer|antwort)|out of (?:the )?office|vacation|on leave|"
    r"away from|abwesenheit|absence|автоответ|автоматический ответ|аўтаадказ|i am (?:out|away))",
    re.IGNORECASE,
)
SYSTEM_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)|mail administrator", re.I)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non-?deliver|delivery (?:status notification|failure|has failed|problem|notification)|"
    r"mail delivery failed|returned mail|failure notice|could not be delivered|delivery failed|"
    r"message not delivered|mail system error|mail error|rejected|warning: could not send|nicht zustellbar|"
    r"не доставлено|недоставлен",
    re.IGNORECASE,
)
FAILURE_TEXT = re.compile(
    r"could(?: not|n't) be delivered|delivery (?:has )?failed|permanent(?: fatal)? error|unable to deliver|"
    r"(?:was|were)(?:n't| not) able to deliver|failed permanently|delivery to the following recipients? failed|"
    r"undeliverable|did not reach|was not delivered|following address(?:es|\(es\))? failed|"
    r"could not deliver|cannot be delivered|can't be delivered|message was rejected|not delivered to|"
    r"returned to sender|delivery failure|fatal errors?|recipient rejected|"
    r"error has occurred while attempting to deliver",
    re.IGNORECASE,
)
WARNING_TEXT = re.compile(
    r"will (?:continue|keep) (?:trying|to try)|still (?:be )?trying|has been delayed|not yet been delivered|"
    r"delivery (?:is )?delayed|no action is required|will (?:be )?retr(?:y|ied)|this is a warning|"
    r"delivery attempts will continue|warning message only",
    re.IGNORECASE,
)
REPLY_LINE = re.compile(
    r"(?:^|[\s:>\]\"(])[45][0-5]\d(?:[ -]|$)|\b[45]\.\d{1,3}\.\d{1,3}\b|(?:host|server|mta) (?:said|replied)",
    re.IGNORECASE,
)
DIAGNOSTIC_LINES = 3


@dataclass(frozen=True)
class Failure:
    status: str | None
    diagnostic: str | None
    """The lines carrying the receiving server's reply, or those naming the failed address."""
    text: str
    """The report's own words (for the reason when the diagnostic states none)."""
    warning: bool = False


def auto_reply(message: Message) -> bool:
    """A vacation notice or other auto-reply (asked only of reports that are not failures)."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto.startswith("auto-replied") or any(message.get(name) for name in AUTO_REPLY_HEADERS):
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(AUTO_REPLY_SUBJECT.search(str(message.get("Subject", ""))))


def from_mail_system(message: Message) -> bool:
    sender = " ".join(str(value) for value in (message.get("From", ""), message.get("Return-Path", "")))
    _, address = email.utils.parseaddr(str(message.get("From", "")))
    empty = str(message.get("Return-Path", "")).strip() == "<>" or str(message.get("From", "")).strip().endswith("<>")
    return bool(SYSTEM_SENDER.search(sender) or SYSTEM_SENDER.search(address) or empty)


def failure(message: Message) -> Failure | None:
    """The failure a prose report states, or None when it states none we can see."""
    try:
        temporary, permanent = all_failures(message)
    except (AttributeError, TypeError, ValueError, LookupError, UnicodeError, IndexError):
        temporary, permanent = frozenset(), frozenset()
    text = dsn.own_text(message)
    subject = str(message.get("Subject", ""))
    system = from_mail_system(message) or bool(BOUNCE_SUBJECT.search(subject))
    warned = bool(WARNING_TEXT.search(text)) and not FAILURE_TEXT.search(text.split("\n\n", 1)[0])
    if not permanent and (temporary or (system and warned)):
        return Failure(None, reply_lines(text), text, warning=True)
    if not permanent and not (system and FAILURE_TEXT.search(text)):
        return None
    addresses = tuple(address.decode("utf-8", "replace").lower() for address in permanent)
    diagnostic = reply_lines(text) or address_lines(text, addresses)
    return Failure(dsn.first_status(diagnostic or ""), diagnostic, text)


def reply_lines(text: str) -> str | None:
    """The lines carrying the remote server's reply (and the line after each), joined."""
    return _lines(text, REPLY_LINE.search)


def address_lines(text: str, addresses: tuple[str, ...]) -> str | None:
    """The words right after a failed address (qmail's `<a@b>:` then the reason), joined."""
    if not addresses:
        return None
    return _lines(text, lambda line: any(address in line.lower() for address in addresses), following=2)


def _lines(text: str, chosen_if: Callable[[str], object], *, following: int = 1) -> str | None:
    lines = text.splitlines()
    chosen: list[str] = []
    for number, line in enumerate(lines):
        if chosen_if(line):
            chosen.extend(lines[number : number + 1 + following])
        if len(chosen) >= 2 * DIAGNOSTIC_LINES:
            break
    joined = " ".join(" ".join(chosen).split())
    return joined[:1000] or None
