"""The weekly scheduler (APScheduler 3): build last week's editions and send them.

Safe to run twice at once or to restart mid-run: the editions' and deliveries' unique keys decide
what is created and sent. A `scheduler_runs` row per due time lets a restarted process notice a run
it missed and do it once, if it is still within SCHEDULE_GRACE_SECONDS.
"""
from __future__ import annotations

import atexit
import logging
import re
import threading
from datetime import datetime, timedelta, timezone

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import update

from . import editions, heartbeats
from .database import dialect_insert
from .delivery import ledger
from .extensions import db
from .models import utcnow
from .models.content import SchedulerRun
from .models.content import EditionStatus
from .weeks import previous_week, publication_zone
from .cli.readiness import ensure_ready

log = logging.getLogger(__name__)
FRIENDLY = re.compile(r"^(?:(?P<days>[a-z*][a-z0-9,*-]*)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
CHECK_SECONDS = 60

_started: BackgroundScheduler | None = None
_start_lock = threading.Lock()


class ScheduleError(ValueError):
    """NEWSLETTER_SCHEDULE is neither "DAYS HH:MM" nor a five-field crontab."""


def parse_schedule(value: str, zone=None) -> CronTrigger:
    """"mon 09:00", "mon,thu 07:30", "daily 06:00" or a crontab such as "0 9 * * mon"."""
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


def grace() -> timedelta:
    """How late a run may still happen (at least a minute, so a job that starts a little late finds its time)."""
    return max(timedelta(seconds=float(current_app.config["SCHEDULE_GRACE_SECONDS"])), timedelta(minutes=1))


def review_mode() -> bool:
    return bool(current_app.config.get("REVIEW"))


def latest_due_time(now: datetime, trigger: CronTrigger | None = None) -> datetime | None:
    """The most recent scheduled time not after `now` and no older than the grace time."""
    trigger = trigger or parse_schedule(current_app.config["SCHEDULE"])
    earliest = now - grace()
    candidate, latest = trigger.get_next_fire_time(None, earliest), None
    for _ in range(10_000):
        if candidate is None or candidate > now:
            break
        latest = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(seconds=1))
    return latest


def _record_start(due_at: datetime, week_start) -> bool:
    """Note that a run is under way; False if that run already finished."""
    db.session.execute(
        dialect_insert(SchedulerRun).values(due_at=due_at, week_start=week_start, started_at=utcnow(), outcome="")
        .on_conflict_do_nothing(index_elements=["due_at"])
    )
    db.session.commit()
    run = db.session.get(SchedulerRun, due_at, populate_existing=True)
    return run.finished_at is None


def weekly_run(due_at: datetime) -> list[str]:
    """Build the week before `due_at` and, unless in review mode, send its draft editions."""
    due_at = due_at.astimezone(timezone.utc)
    week_start = previous_week(due_at)
    if not _record_start(due_at, week_start):
        return []
    outcome = []
    for edition in editions.build_week(week_start):
        if edition.status == EditionStatus.DRAFT and not review_mode():
            try:
                queued = editions.send_edition(edition)
                outcome.append(f"{edition.language}: sending to {queued}")
            except ledger.SendConflict:
                outcome.append(f"{edition.language}: already sent by another run")
        else:
            outcome.append(f"{edition.language}: {edition.status}")
    db.session.execute(
        update(SchedulerRun).where(SchedulerRun.due_at == due_at)
        .values(finished_at=utcnow(), outcome="; ".join(outcome) or "no articles")
    )
    db.session.commit()
    log.info("weekly run for %s (week of %s): %s", due_at.isoformat(), week_start, outcome or "no articles")
    return outcome


def run_if_due(now: datetime | None = None) -> list[str] | None:
    """Do the latest scheduled run if it is within the grace time and not finished yet."""
    due_at = latest_due_time(now or utcnow())
    return weekly_run(due_at) if due_at else None


def send_due_scheduled(now: datetime | None = None) -> int:
    """Enqueue every scheduled edition whose time has come (the enqueue itself refuses a second send)."""
    started = 0
    for edition in editions.due_scheduled_editions(now):
        try:
            editions.send_edition(edition)
            started += 1
        except ledger.SendConflict:
            db.session.rollback()
    return started


def periodic_check() -> None:
    """Every minute: finish a weekly run that failed or was missed, and start due scheduled sends."""
    run_if_due()
    send_due_scheduled()


def _in_context(app: Flask, function):
    def job():
        with app.app_context():
            try:
                function()
            except Exception:  # a failed run must not stop the scheduler; the next check retries
                log.exception("scheduled job %s failed", function.__name__)
            finally:
                db.session.remove()

    job.__name__ = function.__name__
    return job


def configure(scheduler, app: Flask):
    """Add the weekly job, the scheduled-editions check and a catch-up run at start."""
    with app.app_context():
        zone = publication_zone()
        trigger = parse_schedule(app.config["SCHEDULE"], zone)
        grace_seconds = int(grace().total_seconds())
    scheduler.add_job(_in_context(app, run_if_due), trigger, id="weekly", coalesce=True,
                      misfire_grace_time=grace_seconds, max_instances=1, replace_existing=True)
    scheduler.add_job(_in_context(app, periodic_check), "interval", seconds=CHECK_SECONDS, id="periodic-check",
                      coalesce=True, max_instances=1, replace_existing=True)
    scheduler.add_job(_in_context(app, run_if_due), "date", id="catch-up", replace_existing=True)
    scheduler.add_job(_in_context(app, heartbeats.beat_scheduler), "interval", seconds=heartbeats.SCHEDULER_SECONDS,
                      next_run_time=datetime.now(timezone.utc), id="heartbeat", replace_existing=True)
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


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Do a due or missed run and send due scheduled editions, then exit.")
@with_appcontext
def scheduler_command(once: bool) -> None:
    """Run the weekly scheduler in the foreground (build last week's editions and send them)."""
    app = current_app._get_current_object()
    ensure_ready()
    try:
        parse_schedule(app.config["SCHEDULE"])
    except ScheduleError as error:
        raise click.ClickException(str(error)) from error
    if once:
        outcome = run_if_due()
        started = send_due_scheduled()
        click.echo(f"weekly run: {outcome if outcome is not None else 'none due'}; scheduled sends started: {started}")
        return
    scheduler = configure(BlockingScheduler(timezone=publication_zone()), app)
    click.echo(f"Scheduler running ({app.config['SCHEDULE']}, {app.config['TIMEZONE']}); Ctrl+C stops it.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
