"""The public archive as a web page of its own: no email chrome, a subscribe call to action, the other
languages, pagination with titles, unpublishing, cancelled-but-delivered editions, a cacheable Atom feed."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from newsletter.core.extensions import db
from newsletter.editions import cancel_edition, send_edition, set_published
from newsletter.models import Delivery, Edition
from newsletter.models.delivery import DeliveryStatus

ATOM = "{http://www.w3.org/2005/Atom}"


def _send(edition) -> None:
    send_edition(edition)


def test_the_page_is_a_web_page_not_the_email(client, built_week):
    for edition in built_week.values():
        _send(edition)
    page = client.get("/archive/ru/2022-01-10")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Content-Language"] == "ru"
    assert '<html lang="ru">' in text and "<mj-" not in text and "<table" not in text
    assert "Открыть этот выпуск в браузере" not in text, "no 'open in browser'"
    assert "Вы получили это письмо" not in text and "потому что подписались" not in text, "no 'you received this'"
    assert "Получайте этот дайджест" in text and 'href="http://newsletter.test/subscribe?lang=ru"' in text
    assert 'href="/archive/be/2022-01-10"' in text and 'href="/archive/en/2022-01-10"' in text
    assert "Донор безопасности в другом регионе" in text and "__UNSUBSCRIBE_URL__" not in text


def test_other_languages_list_only_published_ones(client, built_week):
    _send(built_week["ru"])
    text = client.get("/archive/ru/2022-01-10").get_data(as_text=True)
    assert "/archive/en/2022-01-10" not in text and "/archive/be/2022-01-10" not in text


def test_pagination_lists_titles_and_pages(client, app, built_week):
    _send(built_week["en"])
    template = built_week["en"]
    for weeks_back in range(1, 25):
        db.session.add(
            Edition(
                week_start=template.week_start - timedelta(weeks=weeks_back),
                language="en",
                status="sent",
                subject=f"Old issue {weeks_back}",
                html="<p>old</p>",
                text="old",
                contents=None,
                send_started_at=template.send_started_at,
            )
        )
    db.session.commit()
    first = client.get("/archive/en").get_data(as_text=True)
    assert "A security donor in another region" in first, "article titles in the list"
    assert first.count("/archive/en/20") == 20 and 'href="?page=2"' in first
    second = client.get("/archive/en?page=2").get_data(as_text=True)
    assert "Old issue 24" in second and 'href="?page=1"' in second and "Old issue 5" not in second
    assert client.get("/archive/en?page=999").status_code == 200
    assert client.get("/archive/en?page=-1").status_code == 200


def test_an_unpublished_edition_leaves_the_archive_and_the_feed(client, runner, editor_headers, built_week):
    _send(built_week["en"])
    assert client.post(f"/api/v1/editions/{built_week['en'].id}/unpublish", headers=editor_headers).status_code == 200
    assert client.get("/archive/en/2022-01-10").status_code == 404
    assert "/archive/en/2022-01-10" not in client.get("/archive/en").get_data(as_text=True)
    assert ElementTree.fromstring(client.get("/archive/en/feed.atom").data).findall(f"{ATOM}entry") == []
    result = runner.invoke(args=["editions", "unpublish", str(built_week["en"].id), "--undo"])
    assert result.exit_code == 0 and client.get("/archive/en/2022-01-10").status_code == 200


def test_a_cancelled_send_stays_public_once_a_copy_was_delivered(client, built_week, make_subscriber):
    make_subscriber("a@example.org", ["ru", "en"])
    make_subscriber("b@example.org", ["ru"])
    ru, en = built_week["ru"], built_week["en"]
    _send(ru)
    _send(en)
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.edition_id == ru.id,
            Delivery.id
            == db.session.query(Delivery.id)
            .filter(Delivery.edition_id == ru.id)
            .order_by(Delivery.id)
            .limit(1)
            .scalar_subquery(),
        )
        .values(status=DeliveryStatus.SENT)
    )
    db.session.commit()
    cancel_edition(ru)
    cancel_edition(en)
    assert client.get("/archive/ru/2022-01-10").status_code == 200, "a delivered web-view link keeps working"
    assert client.get("/archive/en/2022-01-10").status_code == 404, "nothing of it was delivered"


def test_atom_has_full_content_stable_updated_and_answers_conditional_requests(client, built_week):
    _send(built_week["en"])
    response = client.get("/archive/en/feed.atom")
    entry = ElementTree.fromstring(response.data).find(f"{ATOM}entry")
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    for title in ("A security donor in another region", "Constitutional reform", "Potash exports"):
        assert title in content.text
    updated = entry.find(f"{ATOM}updated").text
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    again = client.get("/archive/en/feed.atom", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    since = client.get("/archive/en/feed.atom", headers={"If-Modified-Since": response.headers["Last-Modified"]})
    assert since.status_code == 304
    db.session.execute(update(Edition).where(Edition.id == built_week["en"].id).values(status="sent"))
    db.session.commit()
    later = ElementTree.fromstring(client.get("/archive/en/feed.atom").data).find(f"{ATOM}entry")
    assert later.find(f"{ATOM}updated").text == updated, "finishing the send does not change the entry"


def test_set_published_is_a_service(app, built_week):
    edition = built_week["be"]
    set_published(edition, False)
    assert edition.unpublished_at is not None
    set_published(edition, True)
    assert edition.unpublished_at is None and date(2022, 1, 10) == edition.week_start


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="headless Chromium (/usr/bin/chromium) is not installed")
def test_the_archive_page_fits_phones_and_desktops(client, built_week):
    from playwright.sync_api import sync_playwright

    for edition in built_week.values():
        _send(edition)
    html = client.get("/archive/be/2022-01-10").get_data(as_text=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for width in (375, 1200):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("**/*", lambda route: route.abort())  # nothing remote may load
                page.set_content(html)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                button = page.get_by_role("link", name="Падпісацца").bounding_box()
                assert button and button["x"] >= 0 and button["x"] + button["width"] <= width
                assert page.get_by_role("link", name="English").count() >= 1
                page.close()
        finally:
            browser.close()
