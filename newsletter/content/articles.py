"""Articles: validation, and adding, updating, deleting and importing them.

An article's identity is its feed `guid` when it has one, else its normalised URL (newsletter.content.article_urls),
so the same page under two spellings is one article; re-importing it under another language is refused,
never a silent relabelling. Text holding control characters or noncharacters is refused per field.

An import file is all or nothing: if any article is bad, nothing is stored and every problem is
reported by the article's index. Feeds (newsletter.content.feeds) keep the good entries instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from newsletter.content.article_urls import normalise_url
from newsletter.content.sections import learn_from_stories
from newsletter.content.story_links import Placement, alternates_key, place, url_key, url_pattern
from newsletter.content.weeks import YEARS
from newsletter.core.characters import bidi_problem, text_problem
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.core.request_text import is_unusable
from newsletter.delivery.placeholders import PLACEHOLDERS
from newsletter.models import Article
from newsletter.models.content import Trend

LIMITS = {"section": 200, "title": 500, "summary": 5000, "author": 200, "url": 2000, "guid": 2000, "story": 200}
FIELDS = ("language", "section", "title", "summary", "url", "published_at", "author", "trend", "guid", "story")
ONE_LINE_FIELDS = ("section", "title", "author", "story")
"""Fields shown as one line among text in other scripts: bidirectional controls are refused there."""
STORY_FIELDS = ("trend", "story")
"""Fields that belong to the article's story rather than to its own row."""
MAX_IMPORT_ARTICLES = 20_000
LOOKUP_CHUNK = 500

# An article from outside is a JSON object of any shape; once validated, its FIELDS by name (str, datetime, None).
ArticleData = dict[str, Any]


class ArticleInvalid(ValueError):
    """One article's problems, field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class ImportInvalid(ValueError):
    """A whole import rejected: its problems by article index (or "file")."""

    def __init__(self, problems: dict[str, dict[str, str]]) -> None:
        lines = [
            f"article {where}: {name}: {message}" for where, errs in problems.items() for name, message in errs.items()
        ]
        super().__init__("\n".join(lines))
        self.problems = problems


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)


def _text(data: ArticleData, name: str, errors: dict[str, str], required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = "is required"
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return None
    value = value.strip()
    problem = text_problem(value, LIMITS[name]) or (bidi_problem(value) if name in ONE_LINE_FIELDS else None)
    if problem:
        errors[name] = problem
    elif any(marker in value for marker in PLACEHOLDERS):
        errors[name] = "contains a forbidden character sequence"
    elif any(is_unusable(character) for character in value):
        errors[name] = "contains an unpaired surrogate or a Unicode noncharacter"
    return value


def _url(data: ArticleData, errors: dict[str, str]) -> str | None:
    value = _text(data, "url", errors)
    if value is None or "url" in errors:
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c in value for c in " \r\n\t<>\"'"):
        errors["url"] = "must be an absolute http or https address"
        return value
    try:
        return normalise_url(value)
    except ValueError:
        errors["url"] = "must be an absolute http or https address (its port is not a number)"
        return value


def _trend(data: ArticleData, errors: dict[str, str]) -> str | None:
    value = data.get("trend")
    if value is None or value == "":
        return None
    if value not in tuple(Trend):
        errors["trend"] = f"must be one of {', '.join(Trend)} or null"
        return None
    return str(value)


def _published_at(data: ArticleData, errors: dict[str, str]) -> datetime | None:
    value = data.get("published_at")
    moment: datetime | None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            errors["published_at"] = "must be an ISO 8601 date and time with a zone, e.g. 2022-01-14T10:00:00+03:00"
            return None
    else:
        errors["published_at"] = "is required"
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        errors["published_at"] = "has no time zone (add an offset such as +03:00 or Z)"
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or moment.year not in YEARS:
        errors["published_at"] = f"must be in the years {YEARS.start} to {YEARS.stop - 1}"
        return None
    return moment


def validate_article(data: object) -> ArticleData:
    """Clean article fields from untrusted input, or raise ArticleInvalid."""
    if not isinstance(data, dict):
        raise ArticleInvalid({"article": "must be a JSON object"})
    errors: dict[str, str] = {}
    language = data.get("language")
    if language not in LANGUAGES:
        errors["language"] = f"must be one of {', '.join(LANGUAGES)}"
    cleaned = {
        "language": language,
        "section": _text(data, "section", errors),
        "title": _text(data, "title", errors),
        "summary": _text(data, "summary", errors),
        "url": _url(data, errors),
        "published_at": _published_at(data, errors),
        "author": _text(data, "author", errors, required=False),
        "trend": _trend(data, errors),
        "guid": _text(data, "guid", errors, required=False),
        "story": _text(data, "story", errors, required=False),
    }
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errors["fields"] = f"unknown field(s): {', '.join(map(str, unknown))}"
    if errors:
        raise ArticleInvalid(errors)
    return cleaned


def _columns(cleaned: ArticleData) -> ArticleData:
    return {name: value for name, value in cleaned.items() if name not in STORY_FIELDS}


def _apply(article: Article, cleaned: ArticleData) -> bool:
    """Copy cleaned fields onto an article; True if anything changed."""
    changed = False
    for name, value in _columns(cleaned).items():
        if getattr(article, name) != value:
            setattr(article, name, value)
            changed = True
    return changed


URL_TAKEN = "an article with this address already exists"


def language_change(article: Article, cleaned: ArticleData) -> dict[str, str]:
    """Re-importing an article under another language is refused, not silently relabelled."""
    if article.language == cleaned["language"]:
        return {}
    return {
        "language": f"this article (id {article.id}) is stored in {article.language}; "
        "delete it first to publish it in another language"
    }


def _commit_unless_url_taken() -> None:
    """Commit; a concurrent insert of the same URL rolls back and is the same "already exists" error."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise ArticleInvalid({"url": URL_TAKEN}) from error


def _placement(
    article: Article, cleaned: dict[str, Any], pattern: re.Pattern[str], alternates: list[str] | None
) -> Placement:
    automatic = alternates_key(article.url, alternates) if alternates else url_key(article.url, pattern)
    return Placement(article, cleaned.get("story"), automatic, tuple(alternates or ()))


def _place_and_mark(
    pairs: list[tuple[Placement, dict[str, Any]]], trend_given: bool = False, learn: bool = True
) -> dict[int, dict[str, str]]:
    """Put articles in their stories, then set each story's trend where the input gave one; an import (`learn`)
    also defines the sections the stories name (newsletter.content.sections.learn_from_stories)."""
    with db.session.no_autoflush:
        problems = place([placement for placement, _cleaned in pairs])
        for placement, cleaned in pairs:
            if cleaned["trend"] is not None or trend_given:
                placement.article.story.trend = cleaned["trend"]
        if learn:
            placed = {id(p.article.story): p.article.story for p, _c in pairs if p.article.story is not None}
            learn_from_stories(list(placed.values()))
    return problems


def create_article(data: object, story_pattern: str | None = None) -> Article:
    """Add one article and place it in its story (explicit `story` key, else its URL)."""
    cleaned = validate_article(data)
    if db.session.scalar(select(Article.id).where(Article.url == cleaned["url"])):
        raise ArticleInvalid({"url": URL_TAKEN})
    article = Article(**_columns(cleaned))
    problems = _place_and_mark([(_placement(article, cleaned, url_pattern(story_pattern), None), cleaned)])
    if problems:
        db.session.rollback()
        raise ArticleInvalid(problems[0])
    db.session.add(article)
    _commit_unless_url_taken()
    return article


def update_article(article: Article, data: object) -> Article:
    """Replace fields given in `data` (a partial update), validated as a whole article.

    `trend` is the article's story's: changing it changes the mark in every language. `story` moves the article
    into the story of that key.
    """
    if not isinstance(data, dict):
        raise ArticleInvalid({"article": "must be a JSON object"})
    current = {name: getattr(article, name) for name in FIELDS if name != "story"}
    cleaned = validate_article({**current, "story": None, **data})
    if language_change(article, cleaned):
        raise ArticleInvalid(language_change(article, cleaned))
    clash = db.session.scalar(select(Article.id).where(Article.url == cleaned["url"], Article.id != article.id))
    if clash:
        raise ArticleInvalid({"url": URL_TAKEN})
    _apply(article, cleaned)
    placement = Placement(article, cleaned["story"]) if cleaned["story"] else Placement(article)
    problems = _place_and_mark([(placement, cleaned)], trend_given="trend" in data, learn=False)
    if problems:
        db.session.rollback()
        raise ArticleInvalid(problems[0])
    _commit_unless_url_taken()
    return article


def set_trend(article: Article, trend: str | None) -> Article:
    """Mark the article `worse`, `better`, `unchanged` or nothing (None); ArticleInvalid otherwise."""
    return update_article(article, {"trend": trend})


def delete_article(article: Article) -> None:
    """Delete the article; a story left without articles goes with it."""
    story = article.story
    db.session.delete(article)
    db.session.flush()
    if story is not None and not [a for a in story.articles if a is not article]:
        db.session.delete(story)
    db.session.commit()


def list_articles(language: str | None = None, limit: int = 200, offset: int = 0) -> list[Article]:
    query = select(Article).order_by(Article.published_at.desc(), Article.id.desc())
    if language:
        query = query.where(Article.language == language)
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def _existing(urls: set[str], guids: set[str]) -> tuple[dict[str, Article], dict[str, Article]]:
    """Stored articles with these URLs or guids, looked up in chunks (an import can hold thousands)."""
    by_url: dict[str, Article] = {}
    by_guid: dict[str, Article] = {}
    for values, column, found in ((sorted(urls), Article.url, by_url), (sorted(guids), Article.guid, by_guid)):
        for start in range(0, len(values), LOOKUP_CHUNK):
            for article in db.session.scalars(select(Article).where(column.in_(values[start : start + LOOKUP_CHUNK]))):
                found[getattr(article, column.key)] = article
    return by_url, by_guid


def _validated(items: Sequence[object]) -> tuple[list[tuple[int, ArticleData]], dict[str, dict[str, str]]]:
    valid: list[tuple[int, ArticleData]] = []
    problems: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            cleaned = validate_article(item)
            if cleaned["url"] in seen:
                raise ArticleInvalid({"url": "appears twice in this import (tracking parameters do not count)"})
        except ArticleInvalid as error:
            problems[str(index)] = error.errors
            continue
        seen.add(cleaned["url"])
        valid.append((index, cleaned))
    return valid, problems


def store_articles(
    items: Sequence[object],
    keep_good: bool = False,
    keep_first_week: bool = False,
    story_pattern: str | None = None,
    alternates: dict[int, list[str]] | None = None,
) -> ImportResult:
    """Validate every item, then upsert by guid or URL in one transaction.

    With keep_good=False any bad item rejects the lot (ImportInvalid); otherwise bad items are skipped
    and reported in the result. keep_first_week (feeds): an article already stored keeps its publication
    time, so an entry whose `updated` changes stays in the week it was first seen in. Each article is then placed
    in its story (newsletter.content.story_links): `story_pattern` is NEWSLETTER_STORY_URL_PATTERN, `alternates`
    the translations' URLs a feed names, by item index.
    """
    if len(items) > MAX_IMPORT_ARTICLES:
        raise ImportInvalid(
            {
                "file": {
                    "articles": f"holds {len(items)} articles; import at most "
                    f"{MAX_IMPORT_ARTICLES} at a time (split the file)"
                }
            }
        )
    result = ImportResult()
    valid, problems = _validated(items)
    changes = _matched(valid, problems, keep_first_week)
    if problems and not keep_good:
        raise ImportInvalid(problems)
    pattern = url_pattern(story_pattern)
    pairs = []
    for index, article, cleaned in changes:
        stored = _store_one(article, cleaned, result)
        pairs.append((index, _placement(stored, cleaned, pattern, (alternates or {}).get(index)), cleaned))
    clashes = _place_and_mark([(placement, cleaned) for _index, placement, cleaned in pairs])
    problems.update({str(pairs[i][0]): errors for i, errors in clashes.items()})
    if clashes and not keep_good:
        db.session.rollback()
        raise ImportInvalid(problems)
    for i in clashes:  # keep_good: a new article whose story key clashes is not stored
        if pairs[i][1].article.id is None:
            db.session.expunge(pairs[i][1].article)
    result.skipped = problems
    db.session.commit()
    return result


def _matched(
    valid: list[tuple[int, ArticleData]], problems: dict[str, dict[str, str]], keep_first_week: bool
) -> list[tuple[int, Article | None, ArticleData]]:
    """Each valid item with the stored article it is (by guid, else URL); a language change is a problem."""
    by_url, by_guid = _existing({c["url"] for _i, c in valid}, {c["guid"] for _i, c in valid if c["guid"]})
    changes: list[tuple[int, Article | None, ArticleData]] = []
    for index, cleaned in valid:
        article = (by_guid.get(cleaned["guid"]) if cleaned["guid"] else None) or by_url.get(cleaned["url"])
        if article is not None and language_change(article, cleaned):
            problems[str(index)] = language_change(article, cleaned)
            continue
        if article is not None and keep_first_week:
            cleaned = {**cleaned, "published_at": article.published_at}
        changes.append((index, article, cleaned))
    return changes


def _store_one(article: Article | None, cleaned: ArticleData, result: ImportResult) -> Article:
    if article is None:
        article = Article(**_columns(cleaned))
        db.session.add(article)
        result.created += 1
    elif _apply(article, cleaned) or (cleaned["trend"] is not None and cleaned["trend"] != article.trend):
        result.updated += 1
    else:
        result.unchanged += 1
    return article


def import_json(raw: bytes | str, story_pattern: str | None = None) -> ImportResult:
    """Import the samples/articles.json format: {"articles": [...]} (a bare list is accepted too)."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ImportInvalid({"file": {"json": f"not valid JSON ({error})"}}) from error
    except RecursionError as error:
        raise ImportInvalid({"file": {"json": "nested too deeply to be an articles file"}}) from error
    items = document.get("articles") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ImportInvalid({"file": {"articles": 'expected a list of articles under "articles"'}})
    return store_articles(items, story_pattern=story_pattern)


def get_article(article_id: int) -> Article | None:
    return db.session.get(Article, article_id)


def set_trends(marks: dict[int, str | None]) -> int:
    """Set the trend mark of several articles (id -> worse/better/unchanged/None); all valid or none changed."""
    targets = {a.id: a for a in db.session.scalars(select(Article).where(Article.id.in_(marks)))} if marks else {}
    errors: dict[str, str] = {}
    trends = {article_id: _trend({"trend": marks[article_id]}, errors) for article_id in targets}
    if errors:
        raise ArticleInvalid(errors)
    changed = 0
    for article_id, trend in trends.items():
        story = targets[article_id].story
        if story.trend != trend:
            story.trend = trend
            changed += 1
    db.session.commit()
    return changed
