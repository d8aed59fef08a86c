"""`newsletter bounces process`: bounce reports from a maildir or an mbox the operator already has.

Each message is handled exactly once: a maildir's handled messages move from new/ to cur/ (marked seen),
an mbox is emptied of the messages handled, and a report seen before is recognised by its digest anyway.
"""
from __future__ import annotations

import mailbox
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..unsubscribe_mail import NotAMailbox
from . import parsing, rules

__all__ = ["NotAMailbox", "IntakeReport", "process_maildir", "process_mbox", "take"]


@dataclass
class IntakeReport:
    """How many reports had each outcome, and where the ones not applied were kept."""

    outcomes: Counter = field(default_factory=Counter)
    kept: list[Path] = field(default_factory=list)


def take(raw: bytes, settings: rules.BounceRules, *, source: str, envelope: tuple[str, ...] = (),
         report: IntakeReport | None = None) -> rules.Outcome:
    """Parse, record and apply one report; keep it on disk when it was not applied."""
    parsed = parsing.parse(raw)
    outcome = rules.handle(parsed, settings, source=source, envelope=envelope)
    kept = None
    if outcome in (rules.Outcome.UNMATCHED, rules.Outcome.UNRECOGNISED):
        kept = rules.keep(raw, parsed, settings)
    if report is not None:
        report.outcomes[outcome] += 1
        if kept is not None:
            report.kept.append(kept)
    return outcome


def process_maildir(path: Path, settings: rules.BounceRules) -> IntakeReport:
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        raise NotAMailbox(f"{path} is not a maildir (it needs new/ and cur/ folders)")
    box = mailbox.Maildir(str(path), factory=None, create=False)
    report = IntakeReport()
    arrived = (entry.name.split(box.colon)[0] for entry in (path / "new").iterdir() if not entry.name.startswith("."))
    for key in sorted(arrived):
        message = box.get_message(key)
        take(box.get_bytes(key), settings, source="maildir", report=report)
        message.set_subdir("cur")
        message.add_flag("S")
        box[key] = message
    return report


def process_mbox(path: Path, settings: rules.BounceRules) -> IntakeReport:
    try:
        box = mailbox.mbox(str(path), create=False)
    except (mailbox.Error, OSError) as error:
        raise NotAMailbox(f"{path} cannot be read as an mbox file") from error
    report = IntakeReport()
    try:
        box.lock()
    except mailbox.ExternalClashError as error:
        box.close()
        raise NotAMailbox(f"{path} is locked by another program; try again later") from error
    try:
        for key in list(box.keys()):
            take(box.get_bytes(key), settings, source="mbox", report=report)
            box.remove(key)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return report
