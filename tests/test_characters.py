"""Control characters and noncharacters: refused per field by the API and imports, stripped from feeds."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from newsletter.content.articles import ImportInvalid, import_json
from newsletter.content.feeds import fetch_feed
from newsletter.core.characters import first_forbidden, strip_forbidden
from newsletter.core.extensions import db
from newsletter.models import Article

REFUSED = [
    "\x0b",
    "\x01",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\ufffe",
    "\uffff",
    "\ufdd0",
    "\U0001fffe",
    "\U0010ffff",
    "\ud800",
]
ARTICLE = {
    "language": "en",
    "section": "Economy",
    "title": "Title",
    "summary": "Summary.",
    "url": "https://example.org/en/x",
    "published_at": "2022-01-12T12:00:00+03:00",
}


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_every_refused_character_is_found(char):
    assert first_forbidden(f"a{char}b") == f"U+{ord(char):04X}"
    assert first_forbidden(strip_forbidden(f"a{char}b")) is None


def test_tab_newline_and_ordinary_text_are_allowed():
    assert first_forbidden("a\tb\nc\r\nd «ё» — ☃ \u202f \U0001f600") is None


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
@pytest.mark.parametrize("field", ["title", "summary", "section", "author"])
def test_the_api_refuses_it_in_every_text_field_with_a_422(client, editor_headers, char, field):
    body = json.dumps({**ARTICLE, field: f"Text{char}here"}, ensure_ascii=True)
    response = client.post("/api/v1/articles", data=body, content_type="application/json", headers=editor_headers)
    assert response.status_code == 422
    assert f"U+{ord(char):04X}" in response.get_json()["error"]["fields"][field]
    assert db.session.scalar(select(Article.id)) is None


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_an_import_names_the_article_and_stores_nothing(app, char):
    document = json.dumps(
        {"articles": [ARTICLE, {**ARTICLE, "url": "https://example.org/en/y", "title": f"Bad{char}title"}]},
        ensure_ascii=True,
    )
    with pytest.raises(ImportInvalid) as refused:
        import_json(document)
    assert "U+" in refused.value.problems["1"]["title"]
    assert db.session.scalar(select(Article.id)) is None


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_a_feed_strips_it_and_keeps_the_entry(app, tmp_path, char):
    """Raw in the bytes where UTF-8 can carry it; a lone surrogate only as a character reference."""
    char = "&#xD800;" if char == "\ud800" else char
    feed = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>https://example.org/</link><description>d</description>
<item><title>Clean{char} title</title><link>https://example.org/en/2022/01/a</link><category>Economy</category>
<description>&lt;p&gt;Para{char}graph&lt;/p&gt;</description><author>An{char}alyst</author>
<pubDate>Fri, 14 Jan 2022 10:00:00 +0300</pubDate></item></channel></rss>"""
    path = tmp_path / "feed.xml"
    path.write_bytes(feed.encode("utf-8"))
    report = fetch_feed("en", str(path))
    assert report.error is None and report.result.created == 1, report.describe()
    article = db.session.scalars(select(Article)).one()
    for text in (article.title, article.summary, article.author or ""):
        assert first_forbidden(text) is None


@pytest.mark.parametrize("field", ["subject", "preheader", "intro"])
def test_editorial_fields_refuse_it_too(client, editor_headers, built_week, field):
    edition_id = built_week["en"].id
    response = client.patch(
        f"/api/v1/editions/{edition_id}",
        data=json.dumps({field: "a\u000bb"}),
        content_type="application/json",
        headers=editor_headers,
    )
    assert response.status_code == 422 and "U+000B" in response.get_json()["error"]["fields"][field]
