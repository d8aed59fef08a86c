"""The public archive: sent editions only, readable pages without personal links, Atom feeds."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from newsletter.core.extensions import db

ATOM = "{http://www.w3.org/2005/Atom}"


def publish(edition, status="sent"):
    edition.status = status
    db.session.commit()


def test_only_editions_that_went_out_are_listed(client, built_week):
    publish(built_week["ru"])
    publish(built_week["en"], "sending")
    page = client.get("/archive?lang=en")
    assert page.status_code == 200
    assert "/archive/ru/2022-01-10" in page.text and "/archive/en/2022-01-10" in page.text
    assert "/archive/be/2022-01-10" not in page.text
    russian = client.get("/archive/ru")
    assert "/archive/ru/2022-01-10" in russian.text and "/archive/en/2022-01-10" not in russian.text


def test_drafts_and_unknown_pages_are_404(client, built_week):
    assert client.get("/archive/be/2022-01-10").status_code == 404
    assert client.get("/archive/de").status_code == 404
    assert client.get("/archive/ru/not-a-date").status_code == 404


def test_edition_page_shows_the_digest_without_any_personal_link(client, built_week):
    publish(built_week["ru"])
    page = client.get("/archive/ru/2022-01-10")
    assert page.status_code == 200
    assert "10—16 января 2022" in page.text and "Донор безопасности в другом регионе" in page.text
    assert "__UNSUBSCRIBE_URL__" not in page.text and "__PREFERENCES_URL__" not in page.text
    assert "/unsubscribe/" not in page.text and "/preferences/" not in page.text
    assert 'href="http://newsletter.test/subscribe?lang=ru"' in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_atom_feed_per_language(client, built_week):
    publish(built_week["en"])
    response = client.get("/archive/en/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ElementTree.fromstring(response.data)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    assert entries[0].find(f"{ATOM}link").get("href") == "http://newsletter.test/archive/en/2022-01-10"
    assert "January 10" in entries[0].find(f"{ATOM}title").text
    assert "__UNSUBSCRIBE_URL__" not in response.text
    empty = ElementTree.fromstring(client.get("/archive/be/feed.atom").data)
    assert empty.findall(f"{ATOM}entry") == []


def test_empty_archive_says_so_in_the_visitors_language(client, app):
    page = client.get("/archive", headers={"Accept-Language": "be"})
    assert page.status_code == 200 and "Выпускаў пакуль няма." in page.text
