"""Bidirectional controls (U+202A–U+202E, U+2066–U+2069) reverse the text after them: refused, naming the field."""

from __future__ import annotations

import pytest

from newsletter.content.feeds import parse_feed

ARTICLE = {
    "language": "en",
    "section": "Economy",
    "title": "Potash",
    "summary": "S.",
    "url": "https://example.org/en/potash",
    "published_at": "2022-01-12T12:00:00+03:00",
}


@pytest.mark.parametrize("control", ["\u202a", "\u202e", "\u2066", "\u2069"])
@pytest.mark.parametrize("field", ["title", "section", "author"])
def test_an_article_with_a_bidi_control_is_422_naming_the_field(client, editor_headers, control, field):
    response = client.post(
        "/api/v1/articles", json={**ARTICLE, field: f"Potash{control}drawkcab"}, headers=editor_headers
    )
    assert response.status_code == 422
    assert "bidirectional" in response.get_json()["error"]["fields"][field]


def test_subjects_preheaders_and_section_names_refuse_bidi_controls(client, editor_headers, built_week):
    edition = built_week["en"]
    for field in ("subject", "preheader"):
        response = client.patch(f"/api/v1/editions/{edition.id}", json={field: "Issue \u202e1"}, headers=editor_headers)
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
    sections = [{"name": "Economy", "names": {"ru": "Эконо\u2067мика"}}]
    response = client.put("/api/v1/sections", json={"sections": sections}, headers=editor_headers)
    assert response.status_code == 422 and "sections[0].names.ru" in response.get_json()["error"]["fields"]


def test_a_feed_title_loses_its_bidi_controls_instead_of_the_entry():
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Potash \u202eexports</title>'
        "<link>https://example.org/en/p</link><category>Eco\u2066nomy</category></item></channel></rss>"
    ).encode()
    (item,) = parse_feed(feed, "en")
    assert item["title"] == "Potash exports" and item["section"] == "Economy"
