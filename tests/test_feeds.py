"""Pulling articles from RSS/Atom feeds: local files and a loopback HTTP server; bad feeds give clear errors."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from fixtures.settings import current_settings
from sqlalchemy import select

from newsletter.content.feeds import fetch_configured, fetch_feed, plain_text
from newsletter.core.extensions import db
from newsletter.models import Article

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Site (ru)</title><link>https://example.org/ru</link><description>d</description>
<item><title>Донор безопасности</title><link>https://example.org/ru/2022/01/donor</link>
<category>Беларусско-российские отношения</category>
<description>&lt;p&gt;События в &lt;b&gt;Казахстане&lt;/b&gt;.&lt;/p&gt;</description>
<pubDate>Fri, 14 Jan 2022 10:00:00 +0300</pubDate></item>
<item><title>No category</title><link>https://example.org/ru/2022/01/plain</link><description>d</description>
<pubDate>Sat, 15 Jan 2022 10:00:00 +0300</pubDate></item>
<item><title>Unsafe</title><link>javascript:alert(1)</link><description>x</description>
<pubDate>Fri, 14 Jan 2022 10:00:00 +0300</pubDate></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Site (en)</title><id>urn:x</id><updated>2022-01-16T00:00:00Z</updated>
<entry><title>Potash exports look for a new route</title><id>urn:1</id>
<link href="https://example.org/en/2022/01/potash-route"/><category term="Economy"/>
<author><name>Analyst</name></author>
<updated>2022-01-12T09:00:00Z</updated><summary type="html">Freight costs &lt;em&gt;rise&lt;/em&gt;.</summary></entry>
</feed>"""


@pytest.fixture
def feed_file(tmp_path):
    def write(name: str, content: str):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    return write


def test_rss_entries_become_articles_and_bad_entries_are_reported(app, feed_file):
    report = fetch_feed("ru", feed_file("ru.xml", RSS))
    assert report.error is None and report.result.created == 2
    assert "url" in report.result.skipped["2"]
    article, uncategorised = db.session.scalars(select(Article).order_by(Article.published_at)).all()
    assert uncategorised.section == "Новости"
    assert (article.language, article.section) == ("ru", "Беларусско-российские отношения")
    assert article.summary == "События в Казахстане."
    assert article.published_at.isoformat() == "2022-01-14T07:00:00+00:00"
    again = fetch_feed("ru", feed_file("ru.xml", RSS))
    assert (again.result.created, again.result.unchanged) == (0, 2)


def test_atom_entries_from_a_loopback_server(app):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ATOM.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config["FEED_EN"] = f"http://127.0.0.1:{server.server_address[1]}/en.atom"
        [report] = fetch_configured(current_settings().feeds)
    finally:
        server.shutdown()
        server.server_close()
    assert report.error is None and report.result.created == 1
    article = db.session.scalar(select(Article))
    assert (article.title, article.section, article.author) == (
        "Potash exports look for a new route",
        "Economy",
        "Analyst",
    )
    assert article.summary == "Freight costs rise."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not xml at all {", "not"),
        ('<rss version="2.0"><channel><title>t</title></channel></rss>', "no entries"),
        ("", "not"),
    ],
)
def test_malformed_or_empty_feeds_are_clear_errors(app, feed_file, content, message):
    report = fetch_feed("en", feed_file("bad.xml", content))
    assert report.result is None and message in report.error
    assert db.session.scalar(select(Article)) is None


def test_unreachable_feed_is_a_clear_error(app, feed_file):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = fetch_feed("en", f"http://127.0.0.1:{port}/feed")
    assert report.error.startswith("unreachable")
    assert "cannot read" in fetch_feed("en", "/no/such/feed.xml").error


def test_cli_fetch_reports_each_feed(runner, app, feed_file):
    assert runner.invoke(args=["articles", "fetch"]).exit_code == 1  # nothing configured
    app.config["FEED_RU"] = feed_file("ru.xml", RSS)
    app.config["FEED_EN"] = feed_file("en.xml", "garbage")
    result = runner.invoke(args=["articles", "fetch"])
    assert "ru: 2 created" in result.output and "entry 2" in result.output
    assert "en:" in result.output and result.exit_code == 1


def test_plain_text_strips_markup():
    assert plain_text("<p>A &amp; <script>B</script>  C</p>") == "A & B C"
