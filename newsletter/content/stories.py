"""Stories: the week's stories, the decisions made once per story, and linking or unlinking translations by hand.

One service for the API, the CLI and the console. A decision (trend, section, position, lead, included) is made on
the story and every language's edition follows it at its next build; a week has at most one lead story.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from newsletter.content.sections import NAME_LIMIT, section_key, sections_by_name
from newsletter.content.story_links import merge_into
from newsletter.content.weeks import week_bounds, week_of
from newsletter.core.characters import bidi_problem, text_problem
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.models import Article, Story
from newsletter.models.content import Trend

FIELDS = ("trend", "included", "lead", "position", "section")
MAX_POSITION = 10_000
MAX_ID = 2**31 - 1


class StoryInvalid(ValueError):
    """Input about a story that cannot be used, field -> message (HTTP 422, a CLI error)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class ArticlesMissing(LookupError):
    """Linking names articles that do not exist (HTTP 404)."""


class StoryConflict(ValueError):
    """Linking that would put two articles of one language in a story (HTTP 409)."""


def get_story(story_id: int) -> Story | None:
    return db.session.get(Story, story_id)


def _week_articles(week_start: date) -> list[Article]:
    start, end = week_bounds(week_start)
    query = select(Article).where(Article.published_at >= start, Article.published_at < end)
    return list(db.session.scalars(query.order_by(Article.published_at, Article.id)).unique())


def week_stories(week_start: date) -> list[Story]:
    """The stories with an article in the week, in reading order: lead, then by position, then by first article."""
    stories: dict[int, Story] = {}
    for article in _week_articles(week_start):
        stories.setdefault(article.story_id, article.story)
    ordered = list(stories.values())
    return sorted(ordered, key=lambda s: (not s.lead, s.position is None, s.position or 0))


def story_section(story: Story) -> str:
    """The story's section: the editor's choice, else its English article's, else its first article's."""
    if story.section:
        return story.section
    article = story.article_in("en") or (story.articles[0] if story.articles else None)
    return article.section if article is not None else ""


def story_json(story: Story) -> dict[str, Any]:
    articles = {code: (a.id if (a := story.article_in(code)) else None) for code in LANGUAGES}
    return {
        "id": story.id,
        "key": story.key,
        "trend": story.trend,
        "included": story.included,
        "lead": story.lead,
        "position": story.position,
        "section": story_section(story),
        "articles": articles,
        "titles": {code: (a.title if (a := story.article_in(code)) else None) for code in LANGUAGES},
        "missing": [code for code in LANGUAGES if articles[code] is None],
    }


def _flag(name: str, value: object, errors: dict[str, str]) -> bool | None:
    if not isinstance(value, bool):
        errors[name] = "must be true or false"
        return None
    return value


def _validated(changes: object) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise StoryInvalid({"story": f"send a JSON object with any of {', '.join(FIELDS)}"})
    errors: dict[str, str] = {}
    unknown = sorted(map(str, set(changes) - set(FIELDS)))
    if unknown:
        errors["fields"] = f"unknown field(s): {', '.join(unknown)}"
    values: dict[str, Any] = {}
    if "trend" in changes:
        trend = changes["trend"]
        trend = None if trend in (None, "", "none") else trend
        if trend is not None and trend not in tuple(Trend):
            errors["trend"] = f"must be one of {', '.join(Trend)} or null"
        values["trend"] = trend
    for name in ("included", "lead"):
        if name in changes:
            values[name] = _flag(name, changes[name], errors)
    if "position" in changes:
        position = changes["position"]
        if position is not None and (
            not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= MAX_POSITION
        ):
            errors["position"] = f"must be a whole number from 0 to {MAX_POSITION}, or null"
        values["position"] = position
    if "section" in changes:
        values["section"] = _section(changes["section"], errors)
    if errors:
        raise StoryInvalid(errors)
    return values


def _section(value: object, errors: dict[str, str]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        errors["section"] = "must be a string or null"
        return None
    value = " ".join(value.split())
    problem = text_problem(value, NAME_LIMIT) or bidi_problem(value)
    if problem:
        errors["section"] = problem
    return value


def _story_week(story: Story) -> date | None:
    return week_of(min(a.published_at for a in story.articles)) if story.articles else None


def update_story(story: Story, changes: object) -> Story:
    """Apply any of trend, included, lead, position, section; all or nothing. Lead is one story per week."""
    values = _validated(changes)
    if values.get("lead"):
        week = _story_week(story)
        for other in week_stories(week) if week else ():
            if other is not story:
                other.lead = False
    for name, value in values.items():
        setattr(story, name, value)
    db.session.commit()
    return story


def _articles(article_ids: object) -> list[Article]:
    if isinstance(article_ids, list):  # JSON has one number type: 24.0 is the id 24
        article_ids = [int(i) if isinstance(i, float) and i.is_integer() else i for i in article_ids]
    if (
        not isinstance(article_ids, list)
        or not article_ids
        or len(article_ids) > len(LANGUAGES)
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in article_ids)
    ):
        raise StoryInvalid({"articles": f"must be a list of 1 to {len(LANGUAGES)} article ids (one per language)"})
    found = {a.id: a for a in db.session.scalars(select(Article).where(Article.id.in_(article_ids))).unique()}
    missing = [str(i) for i in article_ids if i not in found]
    if missing:
        raise ArticlesMissing(f"no such article(s): {', '.join(missing)}")
    return [found[i] for i in dict.fromkeys(article_ids)]


def link_articles(article_ids: object) -> Story:
    """Make these articles one story (the first one's); StoryConflict when two share a language.

    Their old stories' decisions fill what the kept story has not decided; stories left empty go.
    """
    articles = _articles(article_ids)
    target = articles[0].story
    languages = [a.language for a in articles]
    taken = {a.language for a in target.articles if a not in articles}
    clash = sorted({code for code in languages if languages.count(code) > 1} | (taken & set(languages)))
    if clash:
        raise StoryConflict(f"a story holds one article per language; these share a language: {', '.join(clash)}")
    with db.session.no_autoflush:
        for article in articles[1:]:
            merge_into(target, article)
    db.session.commit()
    return target


def unlink_article(story: Story, article_id: int) -> Story:
    """Take one article out of the story into a story of its own (keyed so imports leave it there)."""
    article = next((a for a in story.articles if a.id == article_id), None)
    if article is None:
        raise StoryInvalid({"article": f"article {article_id} is not in story {story.id}"})
    if len(story.articles) == 1:
        return story
    own = Story(key=f"article:{article.id}", trend=story.trend, section=story.section, included=story.included)
    db.session.add(own)
    article.story = own
    db.session.commit()
    return own


def suggestions(article: Article) -> list[Article]:
    """Articles that may be this one's translations: alone in their story, other languages, same week and section."""
    defined = sections_by_name()

    def section_of(a: Article) -> str:
        key = section_key(a.story.section or a.section)
        return section_key(defined[key].key) if key in defined else key

    mine = section_of(article)
    taken = {a.language for a in article.story.articles}
    return [
        other
        for other in _week_articles(week_of(article.published_at))
        if other.language not in taken and len(other.story.articles) == 1 and section_of(other) == mine
    ]


def set_week_lead(week_start: date, article: Article | None) -> None:
    """The week's lead story is `article`'s (None: no lead); the caller commits."""
    for story in week_stories(week_start):
        story.lead = article is not None and story is article.story


def set_order(articles: list[Article]) -> None:
    """These articles' stories in this order (positions 0, 1, …), and in the digest; the caller commits."""
    for position, article in enumerate(articles):
        article.story.position = position
        article.story.included = True
