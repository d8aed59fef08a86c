"""The record of the scheduler's weekly runs: one row per due time, one per language, one per process's try.

A run is finished only when every language is settled. Every try is kept (`scheduler_attempts`), and a
settled language's outcome (say "sending to 50000") is never replaced by a later try's ("already sent by
another run"), so two schedulers leave an honest record.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update

from newsletter.core.config import LANGUAGES
from newsletter.core.database import dialect_insert
from newsletter.core.extensions import db
from newsletter.models import utcnow
from newsletter.models.content import SchedulerAttempt, SchedulerRun, SchedulerRunLanguage
from newsletter.operations import heartbeats


def start(due_at: datetime, week_start: date) -> bool:
    """Note that a run is under way; False if that run already finished."""
    db.session.execute(
        dialect_insert(SchedulerRun)
        .values(due_at=due_at, week_start=week_start, started_at=utcnow(), outcome="")
        .on_conflict_do_nothing(index_elements=["due_at"])
    )
    db.session.commit()
    run = db.session.get(SchedulerRun, due_at, populate_existing=True)
    assert run is not None  # inserted just above, or already there
    return run.finished_at is None


def settled_languages(due_at: datetime) -> set[str]:
    rows = db.session.scalars(
        select(SchedulerRunLanguage.language).where(SchedulerRunLanguage.due_at == due_at, SchedulerRunLanguage.ok)
    )
    return set(rows)


def record_language(due_at: datetime, language: str, ok: bool, outcome: str) -> None:
    """This try's outcome for the language, unless another try already settled it (its outcome stays)."""
    values = {"due_at": due_at, "language": language, "ok": ok, "outcome": outcome, "recorded_at": utcnow()}
    db.session.execute(
        dialect_insert(SchedulerRunLanguage)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["due_at", "language"],
            set_={"ok": ok, "outcome": outcome, "recorded_at": values["recorded_at"]},
            where=SchedulerRunLanguage.__table__.c.ok.is_(False),
        )
    )
    db.session.commit()


def record_attempt(due_at: datetime) -> int:
    attempt = SchedulerAttempt(due_at=due_at, process=heartbeats.process_name(heartbeats.SCHEDULER)[:200])
    db.session.add(attempt)
    db.session.commit()
    return attempt.id


def finish(due_at: datetime, attempt_id: int, outcome: list[str]) -> None:
    """Close this try with its own outcome; the run's outcome is the settled languages' (the winner's)."""
    now = utcnow()
    db.session.execute(
        update(SchedulerAttempt)
        .where(SchedulerAttempt.id == attempt_id)
        .values(finished_at=now, outcome="; ".join(outcome) or "nothing left to do")
    )
    rows = {
        row.language: row
        for row in db.session.scalars(select(SchedulerRunLanguage).where(SchedulerRunLanguage.due_at == due_at))
    }
    summary = "; ".join(f"{code}: {rows[code].outcome}" for code in LANGUAGES if code in rows)
    finished = all(code in rows and rows[code].ok for code in LANGUAGES)
    values = {"outcome": summary or "no articles"}
    db.session.execute(
        update(SchedulerRun)
        .where(SchedulerRun.due_at == due_at, SchedulerRun.finished_at.is_(None))
        .values(**values, finished_at=now if finished else None)
    )
    db.session.commit()
