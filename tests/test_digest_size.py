"""The digest at any size: a week of 200 articles still fits under Gmail's clipping size (102 KB of HTML)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from newsletter.content.articles import import_json
from newsletter.core.extensions import db
from newsletter.editions import scheduler
from newsletter.editions.rendering import GMAIL_CLIP_BYTES
from newsletter.models import Edition
from newsletter.models.content import SchedulerRunLanguage

SUMMARY = (
    "Minsk and Moscow signed another roadmap on energy prices and customs. Analysts expect little to change "
    "before the spring, since the previous twenty-eight roadmaps were mostly left on paper; the opposition in "
    "exile called the talks a show for domestic audiences and a signal to creditors in the East. "
) * 2


def _week_of_200(language: str = "ru") -> None:
    start = datetime(2022, 1, 10, 9, 0, tzinfo=UTC)
    items = [
        {
            "language": language,
            "section": f"Section {index % 8}",
            "title": f"Commentary number {index}: what the roadmaps mean for the economy",
            "summary": SUMMARY,
            "url": f"https://example.org/{language}/2022/01/commentary-{index}",
            "published_at": (start + timedelta(minutes=index)).isoformat(),
            "author": "Analyst",
        }
        for index in range(200)
    ]
    import_json(json.dumps({"articles": items}))


def test_200_articles_switch_to_the_compact_layout_and_the_editor_is_told(client, editor_headers):
    _week_of_200()
    built = client.post("/api/v1/editions", json={"week": "2022-01-10"}, headers=editor_headers).get_json()
    (edition,) = built["editions"]
    assert edition["article_count"] == 200 and edition["html_bytes"] <= GMAIL_CLIP_BYTES
    assert any("compact layout" in warning for warning in edition["warnings"])
    html = client.get(f"/api/v1/editions/{edition['id']}/preview", headers=editor_headers).get_data(as_text=True)
    assert "Commentary number 199" in html and "Minsk and Moscow signed another roadmap" in html
    assert "Analysts expect little to change" not in html, "only the first sentence"
    stored = db.session.get(Edition, edition["id"])
    assert "Analysts expect little to change" in stored.text, "the text part keeps the whole summary"
    assert "__UNSUBSCRIBE_URL__" in stored.html, "the footer with the unsubscribe link is inside the kept part"


def test_the_scheduler_records_and_logs_the_compact_layout(app, make_subscriber, caplog):
    make_subscriber("ru@example.org", ["ru"])
    _week_of_200()
    with (
        caplog.at_level(logging.INFO),
        time_machine.travel(datetime(2022, 1, 17, 9, 0, 5, tzinfo=ZoneInfo("Europe/Minsk")), tick=False),
    ):
        scheduler.run_if_due()
    edition = db.session.scalar(select(Edition))
    assert edition.status == "sending" and len(edition.html.encode()) <= GMAIL_CLIP_BYTES
    recorded = db.session.scalar(select(SchedulerRunLanguage.outcome).where(SchedulerRunLanguage.language == "ru"))
    assert "compact layout" in recorded
    assert any("compact layout" in record.getMessage() for record in caplog.records)


def test_a_small_week_keeps_the_full_layout(client, editor_headers, built_week):
    edition = built_week["en"]
    assert not (edition.contents or {}).get("compact")
    body = client.get(f"/api/v1/editions/{edition.id}", headers=editor_headers).get_json()
    assert body["warnings"] == []
