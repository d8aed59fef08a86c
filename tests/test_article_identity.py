"""Articles with a stable identity: normalised URLs, feed guids, no silent relabelling, summaries that keep
their shape, Atom entries that keep their week, and large or odd import files without a traceback."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from newsletter.content.article_urls import normalise_url
from newsletter.content.articles import ImportInvalid, import_json
from newsletter.content.feeds import fetch_feed
from newsletter.core.extensions import db
from newsletter.models import Article

BASE = {
    "language": "en",
    "section": "Economy",
    "title": "Title",
    "summary": "Summary.",
    "published_at": "2022-01-12T12:00:00+03:00",
}


@pytest.mark.parametrize(
    "given, stored",
    [
        ("HTTPS://Example.ORG/en/a/", "https://example.org/en/a"),
        ("https://example.org:443/en/a#comments", "https://example.org/en/a"),
        ("http://example.org:80/en/a?utm_source=x&utm_medium=y&id=3&fbclid=abc", "http://example.org/en/a?id=3"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org:8443/a/", "https://example.org:8443/a"),
    ],
)
def test_urls_are_normalised_one_way(given, stored):
    assert normalise_url(given) == stored


def test_a_duplicate_that_differs_only_by_tracking_parameters_is_refused(client, editor_headers):
    first = client.post("/api/v1/articles", json={**BASE, "url": "https://example.org/en/a"}, headers=editor_headers)
    assert first.status_code == 201 and first.get_json()["url"] == "https://example.org/en/a"
    again = client.post(
        "/api/v1/articles", json={**BASE, "url": "https://EXAMPLE.org/en/a/?utm_campaign=w#top"}, headers=editor_headers
    )
    assert again.status_code == 422 and "already exists" in again.get_json()["error"]["fields"]["url"]
    with pytest.raises(ImportInvalid) as twice:
        import_json(
            json.dumps(
                [
                    {**BASE, "url": "https://example.org/en/b"},
                    {**BASE, "url": "https://example.org/en/b?utm_source=mail"},
                ]
            )
        )
    assert "twice" in twice.value.problems["1"]["url"]
    assert db.session.scalar(select(func.count()).select_from(Article)) == 1


def test_an_import_updates_the_same_article_under_another_spelling(app):
    import_json(json.dumps([{**BASE, "url": "https://example.org/en/a"}]))
    result = import_json(json.dumps([{**BASE, "url": "https://example.org/en/a/?utm_source=x", "title": "New"}]))
    assert (result.created, result.updated) == (0, 1)
    assert db.session.scalars(select(Article.title)).all() == ["New"]


def test_reimporting_under_another_language_is_refused(client, editor_headers):
    import_json(json.dumps([{**BASE, "url": "https://example.org/a"}]))
    with pytest.raises(ImportInvalid) as refused:
        import_json(json.dumps([{**BASE, "language": "ru", "url": "https://example.org/a"}]))
    assert "stored in en" in refused.value.problems["0"]["language"]
    article = db.session.scalars(select(Article)).one()
    response = client.patch(f"/api/v1/articles/{article.id}", json={"language": "be"}, headers=editor_headers)
    assert response.status_code == 422 and "stored in en" in response.get_json()["error"]["fields"]["language"]
    assert db.session.scalars(select(Article.language)).all() == ["en"]


def _feed(tmp_path, entries: str, name: str = "feed.xml") -> str:
    path = tmp_path / name
    path.write_text(
        f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>
<link>https://example.org/</link><description>d</description>{entries}</channel></rss>""",
        encoding="utf-8",
    )
    return str(path)


ITEM = """<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>
<category>Economy</category>{body}<pubDate>Fri, 14 Jan 2022 10:00:00 +0300</pubDate></item>"""


def test_feed_keeps_guid_paragraphs_lists_and_uses_content_encoded(app, tmp_path):
    summary = (
        "<description>&lt;p&gt;First.&lt;/p&gt;&lt;p&gt;Second.&lt;/p&gt;&lt;ul&gt;&lt;li&gt;One&lt;/li&gt;"
        "&lt;li&gt;Two&lt;/li&gt;&lt;/ul&gt;</description>"
    )
    encoded = "<content:encoded><![CDATA[<p>Full text.</p><p>More.</p>]]></content:encoded>"
    source = _feed(
        tmp_path,
        ITEM.format(title="A", link="https://example.org/en/a", guid="urn:a", body=summary)
        + ITEM.format(title="B", link="https://example.org/en/b", guid="urn:b", body=encoded),
    )
    report = fetch_feed("en", source)
    assert report.result.created == 2, report.describe()
    a, b = db.session.scalars(select(Article).order_by(Article.title)).all()
    assert a.guid == "urn:a" and a.summary == "First.\n\nSecond.\n• One\n• Two"
    assert b.summary == "Full text.\n\nMore."


def test_a_feed_entry_whose_link_changes_keeps_its_identity_by_guid(app, tmp_path):
    fetch_feed(
        "en",
        _feed(
            tmp_path,
            ITEM.format(title="A", link="https://example.org/en/a", guid="urn:a", body="<description>x</description>"),
        ),
    )
    report = fetch_feed(
        "en",
        _feed(
            tmp_path,
            ITEM.format(
                title="A2", link="https://example.org/en/a-renamed", guid="urn:a", body="<description>x</description>"
            ),
        ),
    )
    assert (report.result.created, report.result.updated) == (0, 1)
    assert db.session.scalars(select(Article.url)).all() == ["https://example.org/en/a-renamed"]


def test_a_feed_entry_that_changes_language_is_reported_not_relabelled(app, tmp_path):
    entry = ITEM.format(title="A", link="https://example.org/a", guid="urn:a", body="<description>x</description>")
    fetch_feed("en", _feed(tmp_path, entry))
    report = fetch_feed("ru", _feed(tmp_path, entry))
    assert report.result.created == 0 and "stored in en" in report.result.skipped["0"]["language"]
    assert "stored in en" in report.describe()
    assert db.session.scalars(select(Article.language)).all() == ["en"]


def test_relative_links_resolve_against_the_feeds_url(app):
    from newsletter.content.feeds import parse_feed

    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://example.org/</link>
<description>d</description><item><title>A</title><link>/en/2022/01/a</link><description>x</description>
<pubDate>Fri, 14 Jan 2022 10:00:00 +0300</pubDate></item></channel></rss>"""
    [item] = parse_feed(body, "en", "https://example.org/feeds/en.xml")
    assert item["url"] == "https://example.org/en/2022/01/a"


ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<id>urn:feed</id><updated>{updated}</updated><entry><title>A</title><id>urn:entry</id>
<link href="https://example.org/en/a"/><updated>{updated}</updated><summary>x</summary></entry></feed>"""


def test_an_atom_entry_keeps_the_week_it_was_first_seen_in(app, tmp_path):
    path = tmp_path / "atom.xml"
    path.write_text(ATOM.format(updated="2022-01-12T09:00:00Z"), encoding="utf-8")
    fetch_feed("en", str(path))
    path.write_text(ATOM.format(updated="2022-01-19T09:00:00Z"), encoding="utf-8")
    report = fetch_feed("en", str(path))
    assert report.error is None
    assert db.session.scalars(select(Article.published_at)).one().isoformat() == "2022-01-12T09:00:00+00:00"


def test_seventy_thousand_articles_give_a_clear_error(app):
    items = [{**BASE, "url": f"https://example.org/en/{i}"} for i in range(70_000)]
    with pytest.raises(ImportInvalid) as refused:
        import_json(json.dumps({"articles": items}))
    assert "70000 articles" in str(refused.value) and "split" in str(refused.value)
    assert db.session.scalar(select(func.count()).select_from(Article)) == 0


def test_a_large_import_within_the_limit_succeeds(app):
    items = [{**BASE, "url": f"https://example.org/en/{i}"} for i in range(3000)]
    assert import_json(json.dumps(items)).created == 3000
    assert import_json(json.dumps(items)).unchanged == 3000


def test_deeply_nested_json_is_a_clear_error(app, runner, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ImportInvalid) as refused:
        import_json(deep)
    assert "nested too deeply" in str(refused.value) or "not valid JSON" in str(refused.value)
    path = tmp_path / "deep.json"
    path.write_text(deep)
    result = runner.invoke(args=["articles", "import", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output and "article file" in result.output
