"""Editions: one per (week, language) in the publication's time zone, idempotent builds, rebuilds, sending."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date

import pytest
from sqlalchemy import func, select

from newsletter.content.articles import import_json
from newsletter.content.weeks import BadWeek, format_period, parse_week, week_bounds
from newsletter.core.extensions import db
from newsletter.editions import EditionConflict, build_week, cancel_edition, schedule_edition
from newsletter.models import Delivery, Edition

WEEK = date(2022, 1, 10)


def edition_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Edition))


def test_sample_week_gives_three_editions_with_the_right_articles(built_week):
    assert {code: e.article_count for code, e in built_week.items()} == {"en": 4, "ru": 4, "be": 3}
    english = built_week["en"].html
    assert "roadmaps-stall" not in english and "sanctions-package" not in english
    for slug in ("security-donor", "reform-stability", "potash-route", "joint-exercises"):
        assert f"https://example.org/en/2022/01/{slug}" in english


def test_boundary_articles_belong_to_the_weeks_before_and_after_in_minsk_time(app, imported_samples):
    before = build_week(date(2022, 1, 3), ["en"])
    after = build_week(date(2022, 1, 17), ["en"])
    assert [e.article_count for e in before] == [1] and "roadmaps-stall" in before[0].html
    assert [e.article_count for e in after] == [1] and "sanctions-package" in after[0].html


def test_week_bounds_are_minsk_midnights_not_utc(app):
    start, end = week_bounds(WEEK)
    assert start.isoformat() == "2022-01-09T21:00:00+00:00"
    assert end.isoformat() == "2022-01-16T21:00:00+00:00"


@pytest.fixture
def utc_app_config(app_config):
    app_config["TIMEZONE"] = "UTC"
    return app_config


def test_another_time_zone_moves_the_boundaries(utc_app_config, app, samples_path):
    import_json(samples_path.read_bytes())
    # Monday 00:30 (+03:00) is Sunday 21:30 UTC, inside the UTC week; Sunday 23:30 (+03:00) stays outside.
    counts = {e.language: e.article_count for e in build_week(WEEK)}
    assert counts["en"] == 5


def test_a_week_argument_is_any_date_of_that_week():
    assert parse_week("2022-01-13") == WEEK
    for bad in (
        "last week",
        "2022-13-01",
        "",
        "2022-01-10T00:00",
        "9999-12-31",
        "0001-01-02",
        "1899-12-31",
        "3000-01-06",
    ):
        with pytest.raises(BadWeek):
            parse_week(bad)


def test_period_is_formatted_per_locale():
    def spaced(text: str) -> str:
        return text.replace("\u2009", " ").replace("\u202f", " ")

    assert spaced(format_period(WEEK, "ru")) == "10—16 января 2022 г."
    assert spaced(format_period(WEEK, "be")) == "10–16 студзеня 2022"
    assert spaced(format_period(WEEK, "en")) == "January 10 – 16, 2022"
    assert spaced(format_period(date(2021, 12, 27), "en")) == "December 27, 2021 – January 2, 2022"


def test_building_twice_returns_the_same_editions_without_rendering_again(app, built_week, monkeypatch):
    def render_digest(*_args):
        raise AssertionError("unchanged editions must not be rendered again")

    monkeypatch.setattr("newsletter.editions.building.render_digest", render_digest)
    again = {e.language: e for e in build_week(WEEK)}
    assert {code: e.id for code, e in again.items()} == {code: e.id for code, e in built_week.items()}
    assert edition_count() == 3


def test_a_language_without_articles_gets_no_edition(app):
    import_json(
        json.dumps(
            {
                "articles": [
                    {
                        "language": "ru",
                        "section": "S",
                        "title": "T",
                        "summary": "S.",
                        "url": "https://example.org/x",
                        "published_at": "2022-01-12T12:00:00+03:00",
                    }
                ]
            }
        )
    )
    assert [e.language for e in build_week(WEEK)] == ["ru"]
    assert build_week(date(2022, 2, 7)) == []


def test_a_draft_is_rebuilt_when_its_articles_change(client, built_week, editor_headers):
    edition = built_week["en"]
    old_hash = edition.source_hash
    article_id = client.get("/api/v1/articles?language=en", headers=editor_headers).get_json()["articles"][1]["id"]
    client.patch(f"/api/v1/articles/{article_id}", json={"title": "A corrected headline"}, headers=editor_headers)
    rebuilt = {e.language: e for e in build_week(WEEK)}["en"]
    assert rebuilt.id == edition.id and rebuilt.source_hash != old_hash
    assert "A corrected headline" in rebuilt.html and rebuilt.status == "draft"


def test_an_edition_whose_articles_were_all_deleted_is_not_sent_and_goes_on_the_next_build(
    client, runner, built_week, editor_headers, make_subscriber
):
    make_subscriber("reader@example.org", ["be"])
    stale = built_week["be"]
    for article in client.get("/api/v1/articles?language=be", headers=editor_headers).get_json()["articles"]:
        client.delete(f"/api/v1/articles/{article['id']}", headers=editor_headers)
    refused = client.post(f"/api/v1/editions/{stale.id}/send", headers=editor_headers)
    assert refused.status_code == 409 and "no articles" in refused.get_json()["error"]["message"]
    result = runner.invoke(args=["editions", "send", str(stale.id)])
    assert result.exit_code == 1 and "no articles" in result.output
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert sorted(e.language for e in build_week(WEEK)) == ["en", "ru"]
    db.session.expire_all()
    assert db.session.get(Edition, stale.id) is None
    assert client.get(f"/api/v1/editions/{stale.id}", headers=editor_headers).status_code == 404


def test_an_edition_that_is_sending_or_sent_is_never_rebuilt(app, built_week):
    edition = built_week["en"]
    for status in ("sending", "sent", "cancelled"):
        edition.status = status
        db.session.commit()
        import_json(
            json.dumps(
                {
                    "articles": [
                        {
                            "language": "en",
                            "section": "Late",
                            "title": f"Late {status}",
                            "summary": "S.",
                            "url": f"https://example.org/late-{status}",
                            "published_at": "2022-01-15T12:00:00+03:00",
                        }
                    ]
                }
            )
        )
        again = {e.language: e for e in build_week(WEEK)}["en"]
        assert again.status == status and f"Late {status}" not in again.html and again.article_count == 4


def test_schedule_and_cancel_before_sending(app, built_week):
    edition = built_week["ru"]
    from datetime import datetime

    schedule_edition(edition, datetime(2022, 1, 17, 9, 0), now=datetime(2022, 1, 16, tzinfo=UTC))
    assert edition.status == "scheduled"
    assert edition.scheduled_for.isoformat() == "2022-01-17T06:00:00+00:00"  # naive = Minsk time
    cancel_edition(edition)
    assert edition.status == "cancelled" and edition.scheduled_for is None
    with pytest.raises(EditionConflict):
        schedule_edition(edition, datetime(2022, 1, 18, 9, 0), now=datetime(2022, 1, 16, tzinfo=UTC))
    assert {e.language: e.status for e in build_week(WEEK)}["ru"] == "cancelled"


def test_cli_build_list_preview_and_bad_week(runner, imported_samples):
    result = runner.invoke(args=["editions", "build", "--week", "2022-01-12", "--language", "be"])
    assert result.exit_code == 0, result.output
    assert "2022-01-10\tbe\tdraft\t3 articles" in result.output
    listed = json.loads(runner.invoke(args=["editions", "list", "--json"]).output)
    assert [(row["language"], row["status"], row["articles"]) for row in listed] == [("be", "draft", 3)]
    preview = runner.invoke(args=["editions", "preview", str(listed[0]["id"])])
    assert "Subject: Belarus Weekly: тыдзень 10–16 студзеня 2022" in preview.output
    assert "__UNSUBSCRIBE_URL__" not in preview.output
    bad = runner.invoke(args=["editions", "build", "--week", "next monday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    assert runner.invoke(args=["editions", "send", "999"]).exit_code == 1


def test_cli_send_twice_is_a_clear_error(runner, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["en"])
    first = runner.invoke(args=["editions", "send", str(built_week["en"].id)])
    assert first.exit_code == 0 and "1 deliveries queued" in first.output
    second = runner.invoke(args=["editions", "send", str(built_week["en"].id)])
    assert second.exit_code == 1 and "not sent" in second.output
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_each_subscriber_gets_one_delivery_per_confirmed_language(app, built_week, make_subscriber):
    from newsletter.delivery.ledger import enqueue_edition

    both = make_subscriber("both@example.org", ["ru", "en"])
    belarusian = make_subscriber("be@example.org", ["be"])
    make_subscriber("pending@example.org", ["ru", "en", "be"], status="pending", confirmed=False)
    make_subscriber("gone@example.org", ["ru", "en", "be"], status="unsubscribed")
    for edition in built_week.values():
        enqueue_edition(edition)
    rows = db.session.execute(
        select(Delivery.subscriber_id, Edition.language)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.status == "queued")
    ).all()
    assert sorted(rows) == sorted([(both.id, "ru"), (both.id, "en"), (belarusian.id, "be")])


@pytest.mark.postgres_only
def test_two_concurrent_builds_create_one_edition_per_language(app, imported_samples):
    barrier, results, errors = threading.Barrier(4), [], []

    def build():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(sorted((e.language, e.id) for e in build_week(WEEK)))
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == 4 and all(result == results[0] for result in results)
    assert edition_count() == 3


def test_end_to_end_each_reader_receives_exactly_their_languages(
    smtp_app_config, app, built_week, make_subscriber, smtp_server
):
    """Build, send through the real worker to a loopback SMTP server, and count what each address got."""
    import email
    from email.policy import default

    from newsletter.delivery import worker
    from newsletter.editions import send_edition

    make_subscriber("both@example.org", ["ru", "en"])
    make_subscriber("be@example.org", ["be"])
    make_subscriber("pending@example.org", ["ru", "en", "be"], status="pending", confirmed=False)
    make_subscriber("gone@example.org", ["ru", "en", "be"], status="unsubscribed")
    for edition in built_week.values():
        send_edition(edition)
    worker.run(once=True, poll_seconds=0.05)
    parsed_by_recipient = [
        (message.recipients[0], email.message_from_bytes(message.data, policy=default))
        for message in smtp_server.messages
    ]
    received = sorted((to, str(parsed["List-Id"]).split("(")[1][:2]) for to, parsed in parsed_by_recipient)
    assert received == [("be@example.org", "be"), ("both@example.org", "en"), ("both@example.org", "ru")]
    parsed = next(p for to, p in parsed_by_recipient if "(ru)" in str(p["List-Id"]))
    assert parsed.get_content_type() == "multipart/alternative"
    assert str(parsed["Subject"]) == built_week["ru"].subject
    assert "https://example.org/ru/2022/01/joint-exercises" in parsed.get_body(("plain",)).get_content()
