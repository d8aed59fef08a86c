"""How imported articles find their translations: an explicit key, a feed's alternates, or their URLs.

Precedence: an explicit `story` key (from an article file or the API) always decides; otherwise a feed entry's
`hreflang` alternates; otherwise the URL with its language marker taken out (`NEWSLETTER_STORY_URL_PATTERN`).
The automatic ways (alternates, URL) only place an article that is new or alone in a story nobody keyed, so a
link or unlink made by hand survives the next import. A story never holds two articles of one language: an
automatic match that would is not made, an explicit key that would is refused for that article.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select

from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.models import Article
from newsletter.models.stories import KEY_LIMIT, Story

# A language marker in a URL: a path segment (/be/), a lang or language query parameter, or a host label (be.).
LOOKUP_CHUNK = 500
DEFAULT_URL_PATTERN = r"/(be|ru|en)(?=/|$|\?|#)|[?&](?:lang|language)=(be|ru|en)(?=&|#|$)|://(be|ru|en)\."


class StoryPatternInvalid(ValueError):
    """NEWSLETTER_STORY_URL_PATTERN cannot be used (it does not compile or has no group)."""


def url_pattern(value: str | None) -> re.Pattern[str]:
    """The configured pattern compiled, or the default; it needs at least one group holding the language code."""
    try:
        pattern = re.compile(value or DEFAULT_URL_PATTERN, re.IGNORECASE)
    except re.error as error:
        raise StoryPatternInvalid(f"NEWSLETTER_STORY_URL_PATTERN is not a regular expression: {error}") from error
    if pattern.groups < 1:
        raise StoryPatternInvalid("NEWSLETTER_STORY_URL_PATTERN needs a group capturing the language code")
    return pattern


def _bounded(prefix: str, value: str) -> str:
    key = f"{prefix}:{value}"
    return key if len(key) <= KEY_LIMIT else f"{prefix}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def url_key(url: str, pattern: re.Pattern[str]) -> str | None:
    """The URL with every language marker replaced by `*`, or None when the URL carries no marker."""
    found = False

    def neutral(match: re.Match[str]) -> str:
        nonlocal found
        group = next((i for i in range(1, pattern.groups + 1) if match.group(i) is not None), None)
        if group is None or match.group(group).lower() not in LANGUAGES:
            return match.group()
        found = True
        start, end = match.span(group)
        text = match.group()
        return text[: start - match.start()] + "*" + text[end - match.start() :]

    neutralised = pattern.sub(neutral, url)
    return _bounded("url", neutralised) if found else None


def alternates_key(url: str, alternates: list[str]) -> str:
    """Every version of a feed entry lists the others, so the smallest URL of the set names the story."""
    return _bounded("alt", min([url, *alternates]))


@dataclass
class Placement:
    """Where one stored article should go: an explicit key, or automatic keys (alternates, then URL)."""

    article: Article
    explicit: str | None = None
    automatic: str | None = None
    alternates: tuple[str, ...] = ()


def _movable(article: Article) -> bool:
    story = article.story
    return story is None or (story.key is None and len(story.articles) <= 1)


def merge_into(target: Story, article: Article) -> None:
    """Move `article` into `target`; its old story's decisions fill what the target has not decided."""
    old = article.story
    article.story = target
    if old is None or old is target:
        return
    if target.trend is None:
        target.trend = old.trend
    if target.position is None:
        target.position = old.position
    target.lead = target.lead or old.lead
    target.included = target.included and old.included
    if not [a for a in old.articles if a is not article]:
        db.session.delete(old)


class _Stories:
    """Stories by key for one import, looked up once and remembered as they are created."""

    def __init__(self, keys: set[str]):
        self.by_key: dict[str, Story] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), LOOKUP_CHUNK):  # an import can hold thousands
            chunk = ordered[start : start + LOOKUP_CHUNK]
            self.by_key.update(
                {s.key: s for s in db.session.scalars(select(Story).where(Story.key.in_(chunk))) if s.key is not None}
            )

    def get(self, key: str) -> Story | None:
        return self.by_key.get(key)

    def create(self, key: str | None) -> Story:
        story = Story(key=key)
        db.session.add(story)
        if key is not None:
            self.by_key[key] = story
        return story


def _taken(story: Story, article: Article) -> Article | None:
    return next((a for a in story.articles if a.language == article.language and a is not article), None)


def place(placements: list[Placement]) -> dict[int, dict[str, str]]:
    """Put each article in its story; returns problems (by placement index) for explicit keys that clash."""
    keys = {p.explicit for p in placements if p.explicit} | {p.automatic for p in placements if p.automatic}
    stories = _Stories(keys)
    by_url = _alternate_articles({u for p in placements for u in p.alternates})
    by_url.update({p.article.url: p.article for p in placements})
    problems: dict[int, dict[str, str]] = {}
    for index, item in enumerate(placements):
        if item.explicit:
            problem = _place_explicit(item, stories)
            if problem:
                problems[index] = problem
        elif _movable(item.article):
            _place_automatic(item, stories, by_url)
    return problems


def _place_explicit(item: Placement, stories: _Stories) -> dict[str, str] | None:
    article, key = item.article, item.explicit
    if key is None:  # only items with an explicit key are placed here
        return None
    story = stories.get(key) or stories.create(key)
    if _taken(story, article) is not None:
        return {"story": f"story {key!r} already has a {article.language} article"}
    merge_into(story, article)
    return None


def _place_automatic(item: Placement, stories: _Stories, by_url: dict[str, Article]) -> None:
    """Join the story of a translation found by alternates or key; else keep (or make) a story of its own."""
    article = item.article
    story = _by_alternates(item, by_url) or (stories.get(item.automatic) if item.automatic else None)
    if story is not None and _taken(story, article) is None:
        merge_into(story, article)
    elif article.story is None:
        article.story = stories.create(item.automatic if story is None else None)
    elif article.story.key is None and item.automatic and story is None:
        article.story.key = item.automatic
        stories.by_key[item.automatic] = article.story


def _alternate_articles(urls: set[str]) -> dict[str, Article]:
    found: dict[str, Article] = {}
    ordered = sorted(urls)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        found.update({a.url: a for a in db.session.scalars(select(Article).where(Article.url.in_(chunk)))})
    return found


def _by_alternates(item: Placement, by_url: dict[str, Article]) -> Story | None:
    for url in item.alternates:
        found = by_url.get(url)
        if found is not None and found.story is not None and found is not item.article:
            return found.story
    return None
