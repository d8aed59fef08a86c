"""The weekly scheduler (APScheduler 3): build last week's editions and send them.

Safe to run twice at once or to restart mid-run: the editions' and deliveries' unique keys decide
what is created and sent. A `scheduler_runs` row per due time lets a restarted process notice a run
it missed and do it once, if it is still within SCHEDULE_GRACE_SECONDS. Each language's outcome is
recorded on its own (`scheduler_run_languages`): a language that fails to build is retried on the next
check while the others are sent, and the run is finished only when every language is settled. Every
process's try is kept (`scheduler_attempts`), and a settled language's outcome (say "sending to 50000") is
never replaced by a later try's ("already sent by another run"), so two schedulers leave an honest record.
"""

from __future__ import annotations

import atexit
import functools
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app

from newsletter import editions
from newsletter.content.weeks import previous_week, publication_zone
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.core.settings import ScheduleSettings, settings_of
from newsletter.delivery import ledger
from newsletter.editions import run_records
from newsletter.editions.rendering import compact_notice
from newsletter.models import Edition, utcnow
from newsletter.models.lifecycle import Action, allows
from newsletter.operations import heartbeats

log = logging.getLogger(__name__)
FRIENDLY = re.compile(r"^(?:(?P<days>[a-z*][a-z0-9,*-]*)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
CHECK_SECONDS = 60

_started: BackgroundScheduler | None = None
_start_lock = threading.Lock()
SchedulerT = TypeVar("SchedulerT", bound=BaseScheduler)


class ScheduleError(ValueError):
    """NEWSLETTER_SCHEDULE is neither "DAYS HH:MM" nor a five-field crontab."""


def parse_schedule(value: str, zone: tzinfo | None = None) -> CronTrigger:
    """ "mon 09:00", "mon,thu 07:30", "daily 06:00" or a crontab such as "0 9 * * mon"."""
    zone = zone or publication_zone()
    text = " ".join(str(value).strip().lower().split())
    try:
        if len(text.split()) == 5:
            return CronTrigger.from_crontab(text, timezone=zone)
        match = FRIENDLY.match(text)
        if not match:
            raise ScheduleError(f"cannot read the schedule {value!r}; use e.g. 'mon 09:00' or '0 9 * * mon'")
        days = match["days"] or "*"
        days = "*" if days in ("daily", "every") else days
        return CronTrigger(day_of_week=days, hour=int(match["hour"]), minute=int(match["minute"]), timezone=zone)
    except ValueError as error:
        if isinstance(error, ScheduleError):
            raise
        raise ScheduleError(f"cannot read the schedule {value!r}: {error}") from error


def _schedule() -> ScheduleSettings:
    """The scheduler's settings: its jobs run in the app's context (see `_in_context`)."""
    return settings_of(current_app).schedule


def grace() -> timedelta:
    """How late a run may still happen (at least a minute, so a job that starts a little late finds its time)."""
    return max(timedelta(seconds=_schedule().grace_seconds), timedelta(minutes=1))


def review_mode() -> bool:
    return _schedule().review


def latest_due_time(now: datetime, trigger: CronTrigger | None = None) -> datetime | None:
    """The most recent scheduled time not after `now` and no older than the grace time."""
    trigger = trigger or parse_schedule(_schedule().schedule)
    earliest = now - grace()
    candidate, latest = trigger.get_next_fire_time(None, earliest), None
    for _ in range(10_000):
        if candidate is None or candidate > now:
            break
        latest = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(seconds=1))
    return latest


def _send_built(edition: Edition) -> tuple[bool, str]:
    """Send a freshly built draft (unless in review mode); what happened, as (settled, outcome)."""
    if not allows(edition.status, Action.WEEKLY_SEND) or review_mode():
        return True, str(edition.status)
    try:
        return True, f"sending to {editions.send_edition(edition)}"
    except editions.NothingToSend:
        db.session.rollback()
        return True, "no articles to send"
    except editions.EditionConflict:
        db.session.rollback()
        return True, "already sent by another run"
    except editions.BuildFailed as failure:
        db.session.rollback()
        return False, f"failed: {failure}"


def _run_language(week_start: date, language: str) -> tuple[bool, str]:
    report = editions.build_week_report(week_start, [language])
    if language in report.failures:
        return False, f"failed: {report.failures[language]}"
    if not report.editions:
        return True, "no articles"
    ok, text = _send_built(report.editions[0])
    notice = compact_notice(report.editions[0].contents)  # recorded with the run and logged below
    return ok, f"{text}; {notice}" if notice else text


def weekly_run(due_at: datetime) -> list[str]:
    """Build the week before `due_at` and, unless in review mode, send its draft editions, one language at a time.

    A language that fails is recorded and retried on the next check; the languages already settled in this
    run are not touched again, so nobody gets a second copy. Returns the outcomes of this attempt.
    """
    due_at = due_at.astimezone(UTC)
    week_start = previous_week(due_at)
    if not run_records.start(due_at, week_start):
        return []
    attempt_id = run_records.record_attempt(due_at)
    settled = run_records.settled_languages(due_at)
    outcome = []
    for language in [code for code in LANGUAGES if code not in settled]:
        ok, text = _run_language(week_start, language)
        run_records.record_language(due_at, language, ok, text)
        outcome.append(f"{language}: {text}")
        (log.warning if not ok else log.info)("weekly run %s, %s: %s", due_at.isoformat(), language, text)
    run_records.finish(due_at, attempt_id, outcome)
    return outcome


def run_if_due(now: datetime | None = None) -> list[str] | None:
    """Do the latest scheduled run if it is within the grace time and not finished yet (or retry its failures)."""
    due_at = latest_due_time(now or utcnow())
    return weekly_run(due_at) if due_at else None


_reported_overdue: set[int] = set()


def send_due_scheduled(now: datetime | None = None) -> int:
    """Enqueue every scheduled edition whose time has come within the grace time; report the overdue ones.

    One that cannot be sent (it fails to render, or another scheduler was first) is left for the next check.
    """
    started = 0
    for edition in editions.due_scheduled_editions(grace(), now):
        try:
            editions.send_edition(edition)
            started += 1
        except editions.EditionConflict:
            db.session.rollback()
        except editions.BuildFailed as failure:
            db.session.rollback()
            log.warning("scheduled send of edition %s not started: %s", edition.id, failure)
    for edition in editions.overdue_editions(grace(), now):
        if edition.id not in _reported_overdue:
            _reported_overdue.add(edition.id)
            log.warning(
                "edition %s (%s, week of %s) is overdue: it was scheduled for %s, more than the grace "
                "time ago; it stays scheduled until an editor sends, reschedules or unschedules it",
                edition.id,
                edition.language,
                edition.week_start,
                editions.shown_time(edition.scheduled_for),
            )
    return started


def periodic_check() -> None:
    """Every minute: finish a weekly run that failed or was missed, and start due scheduled sends.

    Each part runs on its own: a weekly run that fails never holds back an editor's scheduled send.
    """
    for part in (run_if_due, send_due_scheduled):
        try:
            part()
        except Exception:  # one part failing must not stop the other; the next check retries it
            db.session.rollback()
            log.exception("scheduler check: %s failed", part.__name__)


def apply_retention(days: float) -> None:
    """The ledger's retention policy, hourly: one scheduler process, away from the workers' send loop."""
    ledger.prune(days)


def _in_context(app: Flask, function: Callable[[], object]) -> Callable[[], None]:
    def job() -> None:
        with app.app_context():
            try:
                function()
            except Exception:  # a failed run must not stop the scheduler; the next check retries
                log.exception("scheduled job %s failed", function.__name__)
            finally:
                db.session.remove()

    job.__name__ = function.__name__
    return job


def next_run_description(trigger: CronTrigger, now: datetime | None = None) -> str:
    """Which week the next weekly run will build, and when, in the publication's zone."""
    when = trigger.get_next_fire_time(None, (now or utcnow()).astimezone(publication_zone()))
    if when is None:
        return "no weekly run is scheduled"
    return f"next weekly run at {when.isoformat()} builds the week of {previous_week(when).isoformat()}"


def configure(scheduler: SchedulerT, app: Flask) -> SchedulerT:
    """Add the weekly job, the scheduled-editions check and a catch-up run at start; log the next run."""
    settings = settings_of(app)
    with app.app_context():
        zone = publication_zone()
        trigger = parse_schedule(settings.schedule.schedule, zone)
        grace_seconds = int(grace().total_seconds())
        log.info("scheduler: %s", next_run_description(trigger))
    scheduler.add_job(
        _in_context(app, run_if_due),
        trigger,
        id="weekly",
        coalesce=True,
        name=f"weekly build and send ({settings.schedule.schedule})",
        misfire_grace_time=grace_seconds,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        _in_context(app, periodic_check),
        "interval",
        seconds=CHECK_SECONDS,
        id="periodic-check",
        name="scheduled sends and retries of failed languages (every minute)",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        _in_context(app, periodic_check),
        "date",
        id="catch-up",
        name="catch-up at start: a missed weekly run and scheduled sends that came due meanwhile",
        replace_existing=True,
    )
    scheduler.add_job(
        _in_context(
            app,
            functools.update_wrapper(
                functools.partial(apply_retention, settings.delivery.ledger_retention_days), apply_retention
            ),
        ),
        "interval",
        hours=1,
        id="ledger-retention",
        name=f"ledger retention ({settings.delivery.ledger_retention_days:g} days, hourly)",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        _in_context(app, heartbeats.beat_scheduler),
        "interval",
        seconds=heartbeats.SCHEDULER_SECONDS,
        next_run_time=datetime.now(UTC),
        id="heartbeat",
        name="heartbeat for /readyz",
        replace_existing=True,
    )
    return scheduler


def start_background_scheduler(app: Flask) -> BackgroundScheduler:
    """Run the scheduler in this process's background; a second call returns the same one."""
    global _started
    with _start_lock:
        if _started is None:
            with app.app_context():
                zone = publication_zone()
            _started = configure(BackgroundScheduler(timezone=zone), app)
            _started.start()
            atexit.register(stop_background_scheduler)
            log.info("scheduler started in-process (%s)", app.config["SCHEDULE"])
        return _started


def stop_background_scheduler() -> None:
    """Stop the in-process scheduler, if it runs (at exit, or in tests)."""
    global _started
    with _start_lock:
        if _started is not None and _started.running:
            _started.shutdown(wait=False)
        _started = None
