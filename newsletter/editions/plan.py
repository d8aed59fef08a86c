"""What one edition is rendered from: the week's articles shaped by the editor, and its fingerprint.

The plan is computed without rendering, so "is this edition stale?" costs one query of the week's
articles and one of the sections, not an MJML compile.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, select

from newsletter.content.sections import section_key, sections_by_name
from newsletter.content.weeks import week_bounds
from newsletter.core.extensions import db
from newsletter.core.settings import SiteSettings
from newsletter.models import Article, Edition

TEMPLATE_VERSION = "digest-3"


@dataclass(frozen=True)
class Publication:
    """The publication settings a digest shows (read once from the configuration and passed in)."""

    name: str
    base_url: str
    address: str | None = None

    def material(self) -> list[object]:
        return [self.name, self.base_url, self.address]


@dataclass(frozen=True)
class Overrides:
    """The editor's shaping of one edition (its language only); empty means the defaults.

    Order, lead, trend and inclusion are the stories' (newsletter.models.stories), decided once for every language.
    """

    subject: str | None = None
    preheader: str | None = None
    intro: str | None = None
    excluded: frozenset[int] = frozenset()

    @classmethod
    def of(cls, edition: Edition | None) -> Overrides:
        if edition is None:
            return cls()
        return cls(
            edition.subject_override,
            edition.preheader,
            edition.intro,
            frozenset(edition.excluded_article_ids or ()),
        )

    def material(self) -> list[object]:
        return [self.subject, self.preheader, self.intro, sorted(self.excluded)]


@dataclass(frozen=True)
class SectionGroup:
    key: str
    name: str
    articles: list[Article]


@dataclass
class DigestPlan:
    """The included articles in reading order, the lead article, the sections, and the overrides."""

    language: str
    week_start: date
    publication: Publication
    overrides: Overrides
    lead: Article | None
    sections: list[SectionGroup]
    week_article_ids: set[int] = field(default_factory=set)

    @property
    def articles(self) -> list[Article]:
        return ([self.lead] if self.lead else []) + [a for s in self.sections for a in s.articles]

    def fingerprint(self) -> str:
        """A digest of everything the rendering depends on: a change anywhere shows as a new fingerprint."""
        material: list[object] = [
            TEMPLATE_VERSION,
            self.language,
            self.publication.material(),
            self.overrides.material(),
            self.lead.id if self.lead else None,
        ]
        for section in self.sections:
            material.append([section.key, section.name])
            material.extend(_article_material(a) for a in section.articles)
        if self.lead:
            material.append(_article_material(self.lead))
        return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode("utf-8")).hexdigest()


def _article_material(a: Article) -> list[object]:
    story = a.story
    decisions = [story.id, story.trend, story.section, story.position, story.lead, story.included]
    return [a.id, a.section, a.title, a.summary, a.url, a.published_at.isoformat(), a.author, decisions]


def in_week(week_start: date, language: str) -> ColumnElement[bool]:
    start, end = week_bounds(week_start)
    return and_(Article.language == language, Article.published_at >= start, Article.published_at < end)


def week_articles(week_start: date, language: str) -> list[Article]:
    query = select(Article).where(in_week(week_start, language))
    return list(db.session.scalars(query.order_by(Article.published_at, Article.id)))


def _ordered(articles: list[Article], overrides: Overrides) -> list[Article]:
    """The included articles: stories with a position first (by position), then the others by publication time."""
    included = [a for a in articles if a.story.included and a.id not in overrides.excluded]
    return sorted(included, key=lambda a: (a.story.position is None, a.story.position or 0))


def group_sections(articles: list[Article], language: str, manual: bool) -> list[SectionGroup]:
    """Defined sections in their position, then the others in the order first added (or first named).

    Without a manual order, an undefined section's place is its lowest article id (the order articles were
    added); with one, where it first appears in the editor's order.
    """
    defined = sections_by_name()
    groups: dict[str, SectionGroup] = {}
    rank: dict[str, tuple[int, int, int]] = {}
    for index, article in enumerate(articles):
        key = section_key(article.story.section or article.section)
        section = defined.get(key)
        key = section_key(section.key) if section else key
        if key not in groups:
            name = (getattr(section, f"name_{language}", None) or section.key) if section else article.section
            if section is None and article.story.section:
                name = article.story.section
            groups[key] = SectionGroup(key, name, [])
            rank[key] = (0, section.position, 0) if section else (1, index if manual else article.id or 0, 0)
        elif key not in defined and not manual:
            rank[key] = (1, min(rank[key][1], article.id or 0), 0)
        groups[key].articles.append(article)
    return [groups[key] for key in sorted(groups, key=lambda k: (rank[k], k))]


def make_plan(edition: Edition | None, week_start: date, language: str, publication: Publication) -> DigestPlan:
    """The plan of one (week, language), shaped by `edition`'s overrides when it exists."""
    articles = week_articles(week_start, language)
    overrides = Overrides.of(edition)
    ordered = _ordered(articles, overrides)
    lead = next((a for a in ordered if a.story.lead), None)
    rest = [a for a in ordered if a is not lead]
    sections = group_sections(rest, language, manual=any(a.story.position is not None for a in articles))
    return DigestPlan(language, week_start, publication, overrides, lead, sections, {a.id for a in articles})


def publication_settings(site: SiteSettings, language: str) -> Publication:
    """The publication as a reader of `language` sees it (NEWSLETTER_PUBLICATION_NAME_<LANG> first)."""
    return Publication(site.publication_name_in(language), site.base_url, site.organisation_address)
