"""Scheduling that cannot surprise: no past times, unschedule, zones shown with offsets, overdue sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from newsletter.editions import BadSendTime, parse_send_time, schedule_edition, scheduler

MINSK = ZoneInfo("Europe/Minsk")


def schedule(client, headers, edition_id, at):
    return client.post(f"/api/v1/editions/{edition_id}/schedule", json={"at": at}, headers=headers)


def test_a_time_in_the_past_is_422_and_nothing_changes(client, editor_headers, built_week):
    edition_id = built_week["ru"].id
    response = schedule(client, editor_headers, edition_id, "2020-01-01T09:00")
    assert response.status_code == 422
    assert "past" in response.get_json()["error"]["fields"]["at"]
    assert client.get(f"/api/v1/editions/{edition_id}", headers=editor_headers).get_json()["status"] == "draft"


@pytest.mark.parametrize(
    "at, words",
    [
        ("next monday", "ISO 8601"),
        ("2030-13-01T09:00", "ISO 8601"),
        ("2030-01-07T09:00 Mars/Olympus", "unknown time zone"),
        ("2030-01-07T09:00+03:00 Europe/Minsk", "not both"),
        (None, "required"),
        ("2030-01-07T09:00+25:00", "ISO 8601"),
    ],
)
def test_unparseable_or_wrong_zone_is_422(client, editor_headers, built_week, at, words):
    response = schedule(client, editor_headers, built_week["ru"].id, at)
    assert response.status_code == 422 and words in response.get_json()["error"]["fields"]["at"]


def test_a_zone_name_is_understood_and_times_show_the_publication_offset(client, editor_headers, built_week):
    shown = schedule(client, editor_headers, built_week["ru"].id, "2030-01-07 08:00 Europe/Warsaw").get_json()
    assert shown["scheduled_for"] == "2030-01-07T10:00:00+03:00"


def test_unschedule_returns_to_draft_via_api_and_cli(client, runner, editor_headers, built_week):
    ru, en = built_week["ru"].id, built_week["en"].id
    schedule(client, editor_headers, ru, "2030-01-07T09:00")
    back = client.post(f"/api/v1/editions/{ru}/unschedule", headers=editor_headers)
    assert back.status_code == 200 and back.get_json()["status"] == "draft" and back.get_json()["scheduled_for"] is None
    again = client.post(f"/api/v1/editions/{ru}/unschedule", headers=editor_headers)
    assert again.status_code == 409 and "is draft" in again.get_json()["error"]["message"]
    assert runner.invoke(args=["editions", "schedule", str(en), "--at", "2030-01-07T09:00"]).exit_code == 0
    result = runner.invoke(args=["editions", "unschedule", str(en)])
    assert result.exit_code == 0 and "draft" in result.output


def test_cli_refuses_the_past_and_a_wrong_zone(runner, built_week):
    edition_id = str(built_week["ru"].id)
    past = runner.invoke(args=["editions", "schedule", edition_id, "--at", "2001-01-01T09:00"])
    assert past.exit_code == 1 and "past" in past.output and "Traceback" not in past.output
    zone = runner.invoke(args=["editions", "schedule", edition_id, "--at", "2030-01-01 09:00 Nowhere/Land"])
    assert zone.exit_code == 2 and "unknown time zone" in zone.output


def test_parse_send_time_reads_naive_times_in_the_publication_zone(app):
    assert parse_send_time("2030-01-07 09:00").utcoffset() == timedelta(hours=3)
    with pytest.raises(BadSendTime):
        parse_send_time("")


def test_a_scheduled_send_missed_beyond_the_grace_stays_scheduled_and_is_overdue(
    app, client, editor_headers, built_week, make_subscriber, caplog
):
    make_subscriber("reader@example.org", ["ru"])
    app.config["SCHEDULE_GRACE_SECONDS"] = 3600
    edition = built_week["ru"]
    schedule_edition(edition, datetime(2022, 1, 18, 10, 0, tzinfo=MINSK), now=datetime(2022, 1, 17, tzinfo=UTC))
    with time_machine.travel(datetime(2022, 1, 18, 12, 0, tzinfo=MINSK), tick=False):
        assert scheduler.send_due_scheduled() == 0
        shown = client.get(f"/api/v1/editions/{edition.id}", headers=editor_headers).get_json()
    assert shown["status"] == "scheduled" and shown["overdue"] is True
    assert any("overdue" in record.getMessage() for record in caplog.records)


def test_a_scheduled_send_within_the_grace_is_still_sent(app, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["ru"])
    app.config["SCHEDULE_GRACE_SECONDS"] = 3600
    edition = built_week["ru"]
    schedule_edition(edition, datetime(2022, 1, 18, 10, 0, tzinfo=MINSK), now=datetime(2022, 1, 17, tzinfo=UTC))
    with time_machine.travel(datetime(2022, 1, 18, 10, 50, tzinfo=MINSK), tick=False):
        assert scheduler.send_due_scheduled() == 1
    assert edition.status == "sending"


def test_the_scheduler_names_its_next_run_and_its_jobs(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    with time_machine.travel(datetime(2022, 1, 12, 12, 0, tzinfo=MINSK), tick=False):
        described = scheduler.next_run_description(scheduler.parse_schedule("mon 09:00"))
    assert described == "next weekly run at 2022-01-17T09:00:00+03:00 builds the week of 2022-01-10"
    jobs = scheduler.configure(BackgroundScheduler(), app).get_jobs()
    assert all(job.name and "_in_context" not in job.name and job.name != "job" for job in jobs)
    assert any("weekly build and send" in job.name for job in jobs)


def test_scheduler_once_reports_overdue_editions(app, runner, built_week):
    app.config["SCHEDULE_GRACE_SECONDS"] = 3600
    schedule_edition(
        built_week["en"], datetime(2022, 1, 18, 10, 0, tzinfo=MINSK), now=datetime(2022, 1, 17, tzinfo=UTC)
    )
    with time_machine.travel(datetime(2022, 1, 20, 12, 0, tzinfo=MINSK), tick=False):
        result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0 and "overdue scheduled editions" in result.output and ": 1" in result.output
    assert built_week["en"].status == "scheduled"
