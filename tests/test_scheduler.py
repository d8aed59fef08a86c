"""The weekly scheduler with a frozen clock: builds last week's editions, sends unless in review mode,
never twice, catches up a missed run within the grace time, and sends scheduled editions when due."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from newsletter.core.extensions import db
from newsletter.editions import scheduler
from newsletter.models import Delivery, Edition
from newsletter.models.content import SchedulerAttempt, SchedulerRun, SchedulerRunLanguage

MINSK = ZoneInfo("Europe/Minsk")
MONDAY_0900 = datetime(2022, 1, 17, 9, 0, tzinfo=MINSK)


def statuses() -> dict[str, str]:
    return dict(db.session.execute(select(Edition.language, Edition.status)).all())


def delivery_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Delivery))


@pytest.fixture
def readers(make_subscriber):
    make_subscriber("ru-en@example.org", ["ru", "en"])
    make_subscriber("be@example.org", ["be"])


def test_schedule_forms():
    zone = ZoneInfo("Europe/Minsk")
    after = datetime(2022, 1, 12, 12, 0, tzinfo=zone)
    assert scheduler.parse_schedule("mon 09:00", zone).get_next_fire_time(None, after) == MONDAY_0900
    assert scheduler.parse_schedule("0 9 * * mon", zone).get_next_fire_time(None, after) == MONDAY_0900
    daily = scheduler.parse_schedule("daily 06:30", zone).get_next_fire_time(None, after)
    assert daily == datetime(2022, 1, 13, 6, 30, tzinfo=zone)
    for bad in ("someday", "mon 25:00", "xyz 09:00", "0 9 * *"):
        with pytest.raises(scheduler.ScheduleError):
            scheduler.parse_schedule(bad, zone)


def test_monday_run_builds_last_week_and_sends_it(app, imported_samples, readers):
    with time_machine.travel(datetime(2022, 1, 17, 9, 0, 5, tzinfo=MINSK), tick=False):
        outcome = scheduler.run_if_due()
    assert len(outcome) == 3
    assert statuses() == {"be": "sending", "ru": "sending", "en": "sending"}
    assert delivery_count() == 3
    run = db.session.scalar(select(SchedulerRun))
    assert run.week_start.isoformat() == "2022-01-10" and run.finished_at is not None


def test_review_mode_builds_but_waits_for_an_editor(app, imported_samples, readers):
    app.config["REVIEW"] = True
    with time_machine.travel(datetime(2022, 1, 17, 9, 0, 5, tzinfo=MINSK), tick=False):
        scheduler.run_if_due()
    assert statuses() == {"be": "draft", "ru": "draft", "en": "draft"}
    assert delivery_count() == 0


def test_a_second_scheduler_or_a_restart_creates_and_sends_nothing_twice(app, imported_samples, readers):
    due = MONDAY_0900.astimezone(UTC)
    with time_machine.travel(datetime(2022, 1, 17, 9, 0, 5, tzinfo=MINSK), tick=False):
        scheduler.weekly_run(due)
        # a second process that never saw the first one's record finish: the unique keys decide
        db.session.execute(SchedulerRun.__table__.update().values(finished_at=None))
        db.session.commit()
        scheduler.weekly_run(due)
        scheduler.run_if_due()
    assert db.session.scalar(select(func.count()).select_from(Edition)) == 3
    assert delivery_count() == 3


def test_missed_run_happens_once_within_the_grace_time(app, imported_samples, readers):
    app.config["SCHEDULE_GRACE_SECONDS"] = 3 * 3600
    with time_machine.travel(datetime(2022, 1, 17, 11, 30, tzinfo=MINSK), tick=False):
        assert scheduler.run_if_due() is not None
        assert scheduler.run_if_due() == []  # the record says it is done
    assert delivery_count() == 3
    assert db.session.scalar(select(func.count()).select_from(SchedulerRun)) == 1


def test_missed_run_beyond_the_grace_time_is_skipped(app, imported_samples, readers):
    app.config["SCHEDULE_GRACE_SECONDS"] = 3600
    with time_machine.travel(datetime(2022, 1, 17, 12, 0, tzinfo=MINSK), tick=False):
        assert scheduler.run_if_due() is None
    with time_machine.travel(datetime(2022, 1, 16, 23, 0, tzinfo=MINSK), tick=False):
        assert scheduler.run_if_due() is None
    assert statuses() == {} and delivery_count() == 0


def test_scheduled_edition_is_sent_when_its_time_comes(app, built_week, readers):
    from newsletter.editions import schedule_edition

    schedule_edition(
        built_week["ru"], datetime(2022, 1, 18, 10, 0, tzinfo=MINSK), now=datetime(2022, 1, 17, tzinfo=MINSK)
    )
    with time_machine.travel(datetime(2022, 1, 18, 9, 59, tzinfo=MINSK), tick=False):
        assert scheduler.send_due_scheduled() == 0
    with time_machine.travel(datetime(2022, 1, 18, 10, 0, 30, tzinfo=MINSK), tick=False):
        assert scheduler.send_due_scheduled() == 1
        assert scheduler.send_due_scheduled() == 0
    assert statuses()["ru"] == "sending" and delivery_count() == 1


def test_cli_once_and_a_bad_schedule(runner, app, imported_samples):
    with time_machine.travel(datetime(2022, 1, 17, 9, 1, tzinfo=MINSK), tick=False):
        result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0 and "weekly run" in result.output and "none due" not in result.output
    assert set(statuses().values()) == {"sending"}
    app.config["SCHEDULE"] = "whenever"
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 1 and "cannot read the schedule" in result.output


def test_background_scheduler_fires_at_the_scheduled_time_and_starts_once(app, imported_samples, readers):
    app.config["SCHEDULE"] = "mon 09:00"
    with time_machine.travel(datetime(2022, 1, 17, 8, 59, 58, tzinfo=MINSK), tick=True):
        started = scheduler.start_background_scheduler(app)
        try:
            assert scheduler.start_background_scheduler(app) is started
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                db.session.expire_all()
                if db.session.scalar(select(SchedulerRun.finished_at)):
                    break
                time.sleep(0.2)
        finally:
            scheduler.stop_background_scheduler()
    db.session.expire_all()
    run = db.session.scalar(select(SchedulerRun))
    assert run is not None and run.due_at == MONDAY_0900.astimezone(UTC)
    assert statuses() == {"be": "sending", "ru": "sending", "en": "sending"}


@pytest.mark.postgres_only
def test_three_schedulers_at_once_build_and_send_each_edition_once(app, imported_samples, readers):
    import threading

    due = MONDAY_0900.astimezone(UTC)
    barrier, errors = threading.Barrier(3), []

    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                scheduler.weekly_run(due)
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert db.session.scalar(select(func.count()).select_from(Edition)) == 3
    assert delivery_count() == 3
    assert statuses() == {"be": "sending", "ru": "sending", "en": "sending"}
    _assert_the_winner_s_outcome_stands(attempts=3)


def _assert_the_winner_s_outcome_stands(attempts: int) -> None:
    """Each try has its row; the run and each language keep the outcome of the try that sent."""
    db.session.expire_all()
    tries = db.session.scalars(select(SchedulerAttempt)).all()
    assert len(tries) == attempts and all(attempt.finished_at for attempt in tries)
    assert sum("sending to" in attempt.outcome for attempt in tries) >= 1
    run = db.session.scalar(select(SchedulerRun))
    assert run.finished_at is not None
    languages = {row.language: row.outcome for row in db.session.scalars(select(SchedulerRunLanguage))}
    assert languages == {"be": "sending to 1", "ru": "sending to 1", "en": "sending to 1"}, languages
    assert run.outcome == "be: sending to 1; ru: sending to 1; en: sending to 1"


def test_a_second_try_at_a_run_is_recorded_without_overwriting_the_first_s_outcome(app, imported_samples, readers):
    due = MONDAY_0900.astimezone(UTC)
    with time_machine.travel(datetime(2022, 1, 17, 9, 0, 5, tzinfo=MINSK), tick=False):
        scheduler.weekly_run(due)
        db.session.execute(SchedulerRun.__table__.update().values(finished_at=None))  # a loser that started late
        db.session.commit()
        scheduler.weekly_run(due)
    assert delivery_count() == 3
    _assert_the_winner_s_outcome_stands(attempts=2)


def test_a_weekly_run_that_failed_midway_is_finished_by_the_periodic_check(app, imported_samples, readers):
    due = MONDAY_0900.astimezone(UTC)
    db.session.add(SchedulerRun(due_at=due, week_start=MONDAY_0900.date().replace(day=10)))  # started, never finished
    db.session.commit()
    with time_machine.travel(datetime(2022, 1, 17, 9, 5, tzinfo=MINSK), tick=False):
        scheduler.periodic_check()
    assert statuses() == {"be": "sending", "ru": "sending", "en": "sending"}
    assert db.session.scalar(select(SchedulerRun.finished_at)) is not None
