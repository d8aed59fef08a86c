"""Never stale: preview, test send and send rebuild an edition whose articles changed since it was built."""

from __future__ import annotations

import email
from datetime import UTC
from email.policy import default

from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.delivery import worker
from newsletter.models import Article

LATE = {
    "language": "en",
    "section": "Economy",
    "title": "A late commentary on grain",
    "summary": "Late.",
    "url": "https://example.org/en/2022/01/late-grain",
    "published_at": "2022-01-15T12:00:00+03:00",
}


def _article(title_start: str) -> Article:
    return db.session.scalars(select(Article).where(Article.title.startswith(title_start))).one()


def _body(message) -> str:
    parsed = email.message_from_bytes(message.data, policy=default)
    return "".join(part.get_content() for part in parsed.walk() if part.get_content_type().startswith("text/"))


def test_changed_deleted_and_late_articles_reach_preview_test_send_and_send(
    smtp_app_config, client, editor_headers, built_week, make_subscriber, smtp_server
):
    make_subscriber("reader@example.org", ["en"])
    edition_id = built_week["en"].id
    show = lambda: client.get(f"/api/v1/editions/{edition_id}", headers=editor_headers).get_json()  # noqa: E731
    assert show()["stale"] is False

    changed, deleted = _article("A security donor"), _article("Potash exports")
    assert (
        client.patch(
            f"/api/v1/articles/{changed.id}", json={"title": "A security donor, corrected"}, headers=editor_headers
        ).status_code
        == 200
    )
    assert show()["stale"] is True
    assert client.delete(f"/api/v1/articles/{deleted.id}", headers=editor_headers).status_code == 204
    assert client.post("/api/v1/articles", json=LATE, headers=editor_headers).status_code == 201
    assert show()["stale"] is True

    preview = client.get(f"/api/v1/editions/{edition_id}/preview", headers=editor_headers).get_data(as_text=True)
    for html in (preview,):
        assert "A security donor, corrected" in html and "A late commentary on grain" in html
        assert "Potash exports" not in html
    assert show()["stale"] is False, "the preview rebuilt it"

    client.patch(f"/api/v1/articles/{changed.id}", json={"title": "A security donor, final"}, headers=editor_headers)
    assert show()["stale"] is True
    assert (
        client.post(
            f"/api/v1/editions/{edition_id}/test", json={"recipients": ["editor@example.org"]}, headers=editor_headers
        ).status_code
        == 200
    )
    test_copy = _body(smtp_server.messages[-1])
    assert "A security donor, final" in test_copy and "A late commentary on grain" in test_copy
    assert "Potash exports" not in test_copy

    client.patch(f"/api/v1/articles/{changed.id}", json={"title": "A security donor, as sent"}, headers=editor_headers)
    assert show()["stale"] is True
    assert client.post(f"/api/v1/editions/{edition_id}/send", headers=editor_headers).status_code == 202
    worker.run(once=True, poll_seconds=0.05)
    sent = _body([m for m in smtp_server.messages if m.recipients == ["reader@example.org"]][0])
    assert "A security donor, as sent" in sent and "A late commentary on grain" in sent
    assert "Potash exports" not in sent
    assert show()["stale"] is False and show()["status"] == "sent"


def test_a_sending_or_sent_edition_is_frozen(client, editor_headers, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["ru"])
    edition = built_week["ru"]
    client.post(f"/api/v1/editions/{edition.id}/send", headers=editor_headers)
    html = edition.html
    article = _article("Донор")
    client.patch(f"/api/v1/articles/{article.id}", json={"title": "Новый заголовок"}, headers=editor_headers)
    shown = client.get(f"/api/v1/editions/{edition.id}", headers=editor_headers).get_json()
    assert shown["stale"] is False and shown["status"] == "sending"
    assert (
        client.get(f"/api/v1/editions/{edition.id}/preview", headers=editor_headers)
        .get_data(as_text=True)
        .count("Новый заголовок")
        == 0
    )
    db.session.refresh(edition)
    assert edition.html == html


def test_sending_a_week_whose_articles_were_all_deleted_is_refused(client, editor_headers, built_week):
    edition_id = built_week["be"].id
    for article in db.session.scalars(select(Article).where(Article.language == "be")).all():
        client.delete(f"/api/v1/articles/{article.id}", headers=editor_headers)
    response = client.post(f"/api/v1/editions/{edition_id}/send", headers=editor_headers)
    assert response.status_code == 409 and "no articles" in response.get_json()["error"]["message"]


def test_cli_list_shows_stale(runner, client, editor_headers, built_week):
    article = _article("Донар")
    client.patch(f"/api/v1/articles/{article.id}", json={"summary": "Новы тэкст."}, headers=editor_headers)
    result = runner.invoke(args=["editions", "list", "--json"])
    rows = {row["language"]: row for row in __import__("json").loads(result.output)}
    assert rows["be"]["stale"] is True and rows["ru"]["stale"] is False


def test_the_scheduled_send_rebuilds_a_stale_edition_in_the_same_move(
    client, editor_headers, built_week, make_subscriber
):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    from newsletter.editions import schedule_edition, scheduler

    make_subscriber("reader@example.org", ["ru"])
    edition = built_week["ru"]
    schedule_edition(
        edition, datetime(2022, 1, 18, 10, 0, tzinfo=ZoneInfo("Europe/Minsk")), now=datetime(2022, 1, 17, tzinfo=UTC)
    )
    article = _article("Донор")
    client.patch(f"/api/v1/articles/{article.id}", json={"title": "Донор, исправлено"}, headers=editor_headers)
    assert client.get(f"/api/v1/editions/{edition.id}", headers=editor_headers).get_json()["stale"] is True
    with time_machine.travel(datetime(2022, 1, 18, 10, 0, 30, tzinfo=ZoneInfo("Europe/Minsk")), tick=False):
        assert scheduler.send_due_scheduled() == 1
    db.session.refresh(edition)
    assert edition.status == "sending" and "Донор, исправлено" in edition.html
