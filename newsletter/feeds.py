"""Pulling articles from the site's own per-language RSS or Atom feeds (feedparser).

Each entry is validated like an imported article; bad entries are skipped and reported by index,
good ones kept (a feed is re-read every week, one odd entry must not block it).
"""
from __future__ import annotations

import calendar
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import feedparser
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from . import articles
from .config import LANGUAGES

log = logging.getLogger(__name__)
MAX_FEED_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 15


class FeedError(Exception):
    """A feed that cannot be used: unreachable, malformed or empty."""


@dataclass
class FeedReport:
    language: str
    source: str
    result: articles.ImportResult | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"{self.language}: {self.source}: {self.error}"
        r = self.result
        text = f"{self.language}: {r.created} created, {r.updated} updated, {r.unchanged} unchanged"
        skipped = [f"  entry {i}: " + "; ".join(f"{k} {v}" for k, v in errs.items()) for i, errs in r.skipped.items()]
        return "\n".join([text + (f", {len(skipped)} skipped:" if skipped else "")] + skipped)


class _TextOnly(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(markup: str) -> str:
    """Summaries in feeds are HTML; digests need their words only."""
    parser = _TextOnly()
    parser.feed(markup or "")
    parser.close()
    return " ".join("".join(parser.parts).split())


def read_source(source: str) -> bytes:
    """The feed's bytes from an http(s) URL or a local file path (file:// too)."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (scheme checked)
                body = response.read(MAX_FEED_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise FeedError(f"unreachable ({reason})") from error
    else:
        path = Path(source.removeprefix("file://"))
        try:
            body = path.read_bytes()
        except OSError as error:
            raise FeedError(f"cannot read the file ({error.strerror})") from error
    if len(body) > MAX_FEED_BYTES:
        raise FeedError("larger than 5 MB")
    return body


def _published(entry) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc).isoformat()


def _default_section(language: str) -> str:
    """The heading for entries whose feed gives no category, in the feed's language."""
    with force_locale(language):
        return _("News")


def entry_article(entry, language: str) -> dict:
    """One feed entry as article fields (validated later like any other article)."""
    tags = entry.get("tags") or []
    section = next((t.get("term") for t in tags if t.get("term")), None)
    summary = plain_text(entry.get("summary", "")) or None
    return {
        "language": language,
        "section": section or _default_section(language),
        "title": plain_text(entry.get("title", "")) or None,
        "summary": summary,
        "url": entry.get("link"),
        "published_at": _published(entry),
        "author": entry.get("author") or None,
    }


def parse_feed(body: bytes, language: str) -> list[dict]:
    parsed = feedparser.parse(body)
    if not parsed.entries:
        if parsed.get("bozo"):
            raise FeedError(f"not a readable RSS or Atom feed ({parsed.get('bozo_exception')})")
        if not parsed.get("version"):
            raise FeedError("not an RSS or Atom feed")
        raise FeedError("the feed has no entries")
    return [entry_article(entry, language) for entry in parsed.entries]


def fetch_feed(language: str, source: str) -> FeedReport:
    """Read one feed and store its good entries."""
    report = FeedReport(language=language, source=source)
    try:
        items = parse_feed(read_source(source), language)
    except FeedError as error:
        report.error = str(error)
        log.warning("feed for %s not used: %s", language, error)
        return report
    report.result = articles.store_articles(items, keep_good=True)
    return report


def fetch_configured(languages: list[str] | None = None) -> list[FeedReport]:
    """Fetch every configured NEWSLETTER_FEED_<LANG>."""
    reports = []
    for language in languages or LANGUAGES:
        source = current_app.config.get(f"FEED_{language.upper()}")
        if source:
            reports.append(fetch_feed(language, str(source)))
    return reports
