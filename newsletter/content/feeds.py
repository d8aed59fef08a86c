"""Pulling articles from the site's own per-language RSS or Atom feeds (feedparser).

Each entry is validated like an imported article; bad entries are skipped and reported by index,
good ones kept (a feed is re-read every week, one odd entry must not block it). Characters MRML refuses
are stripped rather than refused (the feed is not ours to fix); an entry keeps its `guid`/`id` as its
identity, its summary keeps paragraphs and list items, `content:encoded` stands in for a missing summary,
relative links resolve against the feed's address, and an entry already stored keeps its week even when
only its `updated` time changes.
"""

from __future__ import annotations

import calendar
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
from flask_babel import force_locale
from flask_babel import gettext as _

from newsletter.content import articles
from newsletter.content.article_urls import normalise_url
from newsletter.core.characters import first_forbidden, strip_bidi, strip_forbidden
from newsletter.core.config import LANGUAGES

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
        assert r is not None, "a report holds its result unless it holds an error"
        text = f"{self.language}: {r.created} created, {r.updated} updated, {r.unchanged} unchanged"
        skipped = [f"  entry {i}: " + "; ".join(f"{k} {v}" for k, v in errs.items()) for i, errs in r.skipped.items()]
        return "\n".join([text + (f", {len(skipped)} skipped:" if skipped else "")] + skipped)


BLOCKS = frozenset({"p", "div", "br", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})


class _TextOnly(HTMLParser):
    """The words of an HTML fragment, with paragraph breaks kept and list items as "• " lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.parts.append("\n\n• ")
        elif tag in BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS or tag == "li":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(markup: str) -> str:
    """Summaries in feeds are HTML; digests need their words, paragraphs and list items (clean characters only)."""
    parser = _TextOnly()
    parser.feed(strip_forbidden(markup or ""))
    parser.close()
    paragraphs = ("".join(parser.parts)).split("\n\n")
    words = [" ".join(paragraph.split()) for paragraph in paragraphs]
    text = "\n\n".join(word for word in words if word and word != "•")
    return text.replace("\n\n• ", "\n• ") if "• " in text else text


def read_source(source: str) -> bytes:
    """The feed's bytes from an http(s) URL or a local file path (file:// too)."""
    body: bytes
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


def _published(entry: Mapping[str, Any]) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC).isoformat()


def _default_section(language: str) -> str:
    """The heading for entries whose feed gives no category, in the feed's language."""
    with force_locale(language):
        return str(_("News"))


def _summary(entry: Mapping[str, Any]) -> str | None:
    """The entry's summary, else its full content (`content:encoded`, Atom `content`)."""
    summary = plain_text(entry.get("summary", ""))
    if not summary:
        contents = entry.get("content") or []
        summary = next((plain_text(c.get("value", "")) for c in contents if c.get("value")), "")
    return summary or None


def _clean(value: str | None) -> str | None:
    """One-line text from a feed: no forbidden characters, no bidi controls (refused in titles and names)."""
    return strip_bidi(strip_forbidden(value)).strip() or None if isinstance(value, str) else value


def _own_link(entry: Mapping[str, Any], language: str) -> Any:
    """The entry's own page: feedparser's `link` may be a translation's when an item also lists alternates."""
    for link in entry.get("links") or []:
        hreflang = str(link.get("hreflang") or "").split("-")[0].lower()
        if link.get("rel") == "alternate" and link.get("href") and hreflang in ("", language):
            return link.get("href")
    return entry.get("link")


def entry_article(entry: Mapping[str, Any], language: str, base_url: str = "") -> articles.ArticleData:
    """One feed entry as article fields (validated later like any other article)."""
    tags = entry.get("tags") or []
    section = next((t.get("term") for t in tags if t.get("term")), None)
    link = _own_link(entry, language)
    if isinstance(link, str) and base_url:
        link = urljoin(base_url, link)
    return {
        "language": language,
        "section": _clean(section) or _default_section(language),
        "title": " ".join(strip_bidi(plain_text(entry.get("title", ""))).split()) or None,
        "summary": _summary(entry),
        "url": link,
        "published_at": _published(entry),
        "author": _clean(entry.get("author")),
        "guid": _clean(entry.get("id")),
    }


CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _without_forbidden_references(body: bytes) -> bytes:
    """Drop character references to forbidden code points (feedparser fails on a lone surrogate's)."""

    def keep(match: re.Match[bytes]) -> bytes:
        code = int(match[1], 16) if match[1] else int(match[2])
        return b"" if code > 0x10FFFF or first_forbidden(chr(code)) else match[0]

    return CHARACTER_REFERENCE.sub(keep, body)


XHTML_PREFIX = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']http://www\.w3\.org/1999/xhtml["']""")


def _xhtml_links_as_atom(body: bytes) -> bytes:
    """feedparser drops RSS items' `xhtml:link` alternates; the same element in the Atom namespace it keeps."""
    for prefix in set(XHTML_PREFIX.findall(body)):
        body = re.sub(
            rb"<" + re.escape(prefix) + rb":link\b",
            b'<xhtmlalt:link xmlns:xhtmlalt="http://www.w3.org/2005/Atom"',
            body,
        )
    return body


def entry_alternates(entry: Mapping[str, Any], language: str, base_url: str = "") -> list[str]:
    """The entry's translations: `link rel="alternate" hreflang="…"` in another of the publication's languages."""
    found = []
    for link in entry.get("links") or []:
        hreflang = str(link.get("hreflang") or "").split("-")[0].lower()
        href = link.get("href")
        if link.get("rel") != "alternate" or hreflang not in LANGUAGES or hreflang == language or not href:
            continue
        try:
            found.append(normalise_url(urljoin(base_url, href) if base_url else href))
        except ValueError:
            continue
    return found


def parse_feed(body: bytes, language: str, base_url: str = "") -> list[articles.ArticleData]:
    return parse_feed_entries(body, language, base_url)[0]


def parse_feed_entries(
    body: bytes, language: str, base_url: str = ""
) -> tuple[list[articles.ArticleData], dict[int, list[str]]]:
    """The entries as article fields, and each entry's translations' URLs by index."""
    try:
        parsed = feedparser.parse(_xhtml_links_as_atom(_without_forbidden_references(body)))
    except Exception as error:  # feedparser's loose parser can fail on odd input; a bad feed is a report
        raise FeedError(f"not a readable RSS or Atom feed ({type(error).__name__})") from error
    if not parsed.entries:
        if parsed.get("bozo"):
            raise FeedError(f"not a readable RSS or Atom feed ({parsed.get('bozo_exception')})")
        if not parsed.get("version"):
            raise FeedError("not an RSS or Atom feed")
        raise FeedError("the feed has no entries")
    items = [entry_article(entry, language, base_url) for entry in parsed.entries]
    alternates = {
        i: found for i, entry in enumerate(parsed.entries) if (found := entry_alternates(entry, language, base_url))
    }
    return items, alternates


def fetch_feed(language: str, source: str, story_pattern: str | None = None) -> FeedReport:
    """Read one feed and store its good entries, linked to their translations (alternates, else URLs)."""
    report = FeedReport(language=language, source=source)
    try:
        base = source if source.startswith(("http://", "https://")) else ""
        items, alternates = parse_feed_entries(read_source(source), language, base)
    except FeedError as error:
        report.error = str(error)
        log.warning("feed for %s not used: %s", language, error)
        return report
    report.result = articles.store_articles(
        items, keep_good=True, keep_first_week=True, story_pattern=story_pattern, alternates=alternates
    )
    return report


def fetch_configured(
    feeds: tuple[tuple[str, str], ...], languages: list[str] | None = None, story_pattern: str | None = None
) -> list[FeedReport]:
    """Fetch every configured NEWSLETTER_FEED_<LANG> (`feeds`: language and source, as in the settings)."""
    sources = dict(feeds)
    return [
        fetch_feed(language, sources[language], story_pattern)
        for language in languages or LANGUAGES
        if sources.get(language)
    ]
