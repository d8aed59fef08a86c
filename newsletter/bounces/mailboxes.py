"""`newsletter bounces process`: bounce reports from a maildir or an mbox the operator already has.

Each message is handled exactly once: `mail_folders` moves a maildir's handled messages to cur/ and empties
an mbox of them, and a report seen before is recognised by its digest anyway.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

from newsletter.bounces import parsing, rules
from newsletter.bounces.report import Report
from newsletter.core import mail_folders
from newsletter.core.extensions import db
from newsletter.core.mail_folders import NotAMailbox
from newsletter.models.bounces import BounceKind

log = logging.getLogger(__name__)

__all__ = ["NotAMailbox", "IntakeReport", "process_maildir", "process_mbox", "take"]


@dataclass
class IntakeReport:
    """How many reports had each outcome, and where the ones not applied were kept."""

    outcomes: Counter[rules.Outcome] = field(default_factory=Counter)
    kept: list[Path] = field(default_factory=list)


def take(
    raw: bytes,
    settings: rules.BounceRules,
    *,
    source: str,
    envelope: tuple[str, ...] = (),
    report: IntakeReport | None = None,
) -> rules.Outcome:
    """Parse, record and apply one report; keep it on disk when it was not applied.

    A report that cannot be read or stored (whatever the reason) is kept with a log line and counted as
    unrecognised, so it never blocks the reports after it. Only a database that cannot be reached at all
    raises (OperationalError): then nothing is lost, and the caller leaves the message for a later run.
    """
    parsed = parsing.parse(raw)
    try:
        outcome = rules.handle(parsed, settings, source=source, envelope=envelope)
    except OperationalError:
        db.session.rollback()
        raise
    except Exception as error:  # noqa: BLE001 (one bad report must not stop the rest)
        db.session.rollback()
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            raise
        log.warning("report %s could not be stored (%s); kept as %s.eml", source, type(error).__name__, parsed.key)
        parsed = Report(BounceKind.UNRECOGNISED, parsed.key, reason="unstorable")
        outcome = rules.Outcome.UNRECOGNISED
    kept = None
    if outcome in (rules.Outcome.UNMATCHED, rules.Outcome.UNRECOGNISED):
        kept = rules.keep(raw, parsed, settings)
    if report is not None:
        report.outcomes[outcome] += 1
        if kept is not None:
            report.kept.append(kept)
    return outcome


def process_maildir(path: Path, settings: rules.BounceRules) -> IntakeReport:
    report = IntakeReport()

    def handle(raw: bytes, _name: str) -> None:
        take(raw, settings, source="maildir", report=report)

    mail_folders.handle_maildir(path, handle)
    return report


def process_mbox(path: Path, settings: rules.BounceRules) -> IntakeReport:
    report = IntakeReport()

    def handle(raw: bytes, _name: str) -> None:
        take(raw, settings, source="mbox", report=report)

    mail_folders.handle_mbox(path, handle)
    return report
