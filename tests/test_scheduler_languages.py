"""One bad article never blocks a week: the scheduler sends the other languages and retries the failed one."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select

from newsletter.core.extensions import db
from newsletter.editions import build_week_report, schedule_edition, scheduler
from newsletter.models import Article, Delivery, Edition
from newsletter.models.content import SchedulerRunLanguage

MINSK = ZoneInfo("Europe/Minsk")


def _poison_be() -> Article:
    """An article stored before such text was refused at the door (straight into the table)."""
    article = db.session.scalars(select(Article).where(Article.language == "be").order_by(Article.id)).first()
    article.summary = "Тэкст з\u000bвертыкальнай табуляцыяй."
    db.session.commit()
    return article


def _deliveries() -> dict[str, int]:
    rows = db.session.execute(
        select(Edition.language, func.count(Delivery.id))
        .join(Delivery, Delivery.edition_id == Edition.id)
        .group_by(Edition.language)
    ).all()
    return dict(rows)


def _outcomes() -> dict[str, SchedulerRunLanguage]:
    return {row.language: row for row in db.session.scalars(select(SchedulerRunLanguage))}


def test_a_bad_be_article_does_not_stop_ru_and_en_and_be_follows_once_fixed(app, imported_samples, make_subscriber):
    make_subscriber("be-ru-en@example.org", ["be", "ru", "en"])
    make_subscriber("ru@example.org", ["ru"])
    article = _poison_be()
    with time_machine.travel(datetime(2022, 1, 17, 9, 0, 5, tzinfo=MINSK), tick=False):
        outcome = scheduler.run_if_due()
    assert _deliveries() == {"ru": 2, "en": 1}
    be = _outcomes()["be"]
    assert not be.ok and f"article {article.id}" in be.outcome and "U+000B" in be.outcome and "be" in be.outcome
    assert _outcomes()["ru"].ok and _outcomes()["en"].ok
    assert any(line.startswith("be: failed") for line in outcome)

    with time_machine.travel(datetime(2022, 1, 17, 9, 1, tzinfo=MINSK), tick=False):
        scheduler.run_if_due()
    assert _deliveries() == {"ru": 2, "en": 1}, "still failing: nothing sent twice"

    article.summary = "Тэкст без табуляцыі."
    db.session.commit()
    with time_machine.travel(datetime(2022, 1, 17, 9, 2, tzinfo=MINSK), tick=False):
        again = scheduler.run_if_due()
    assert again == ["be: sending to 1"]
    assert _deliveries() == {"be": 1, "ru": 2, "en": 1}
    with time_machine.travel(datetime(2022, 1, 17, 9, 3, tzinfo=MINSK), tick=False):
        assert scheduler.run_if_due() == []


def test_a_failing_language_names_edition_language_and_article_and_others_are_built(app, imported_samples):
    article = _poison_be()
    report = build_week_report(datetime(2022, 1, 10).date())
    assert sorted(e.language for e in report.editions) == ["en", "ru"]
    message = str(report.failures["be"])
    assert "be edition of the week of 2022-01-10" in message and f"article {article.id}" in message


def test_the_api_and_cli_report_the_failed_language(client, runner, editor_headers, imported_samples):
    _poison_be()
    response = client.post("/api/v1/editions", json={"week": "2022-01-10"}, headers=editor_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert sorted(e["language"] for e in body["editions"]) == ["en", "ru"] and "U+000B" in body["failures"]["be"]
    result = runner.invoke(args=["editions", "build", "--week", "2022-01-10"])
    assert result.exit_code == 1 and "U+000B" in result.output and "Traceback" not in result.output


def test_scheduled_sends_go_out_while_a_weekly_run_keeps_failing(app, built_week, make_subscriber):
    make_subscriber("ru@example.org", ["ru"])
    schedule_edition(built_week["ru"], datetime(2022, 1, 17, 9, 0, tzinfo=MINSK), now=datetime(2022, 1, 16, tzinfo=UTC))
    _poison_be()
    with time_machine.travel(datetime(2022, 1, 17, 9, 0, 30, tzinfo=MINSK), tick=False):
        scheduler.periodic_check()
    assert _deliveries()["ru"] == 1
