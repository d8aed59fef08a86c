"""Building editions: one per (week, language), rendered once, and rebuilt whenever it went stale.

The unique key (week_start, language) decides which build creates an edition: the insert lets the
database drop a duplicate instead of asking first. A draft or scheduled edition whose fingerprint no
longer matches its articles and overrides is re-rendered; one that is sending, paused, sent or cancelled
is frozen. One language failing to render never stops the others: `build_week` reports it and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from newsletter.core.characters import first_forbidden
from newsletter.core.config import LANGUAGES
from newsletter.core.database import dialect_insert
from newsletter.core.extensions import db
from newsletter.core.mail_templates import RenderError
from newsletter.core.settings import settings_of
from newsletter.editions.plan import DigestPlan, make_plan, publication_settings, week_articles
from newsletter.editions.rendering import render_digest
from newsletter.models import Article, Edition, utcnow
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import REBUILDABLE, Action, condition

TEXT_FIELDS = ("section", "title", "summary", "author")


class BuildFailed(Exception):
    """One language's digest could not be rendered; names the edition, language and article where it can."""

    def __init__(self, week_start: date, language: str, problem: str, article: Article | None = None):
        where = f"the {language} edition of the week of {week_start.isoformat()}"
        if article is not None:
            where += f", article {article.id} ({article.title[:60]!r})"
        super().__init__(f"{where}: {problem}")
        self.week_start, self.language = week_start, language
        self.article_id = article.id if article is not None else None


@dataclass
class WeekBuild:
    """The editions built, and the languages that failed (language -> BuildFailed)."""

    editions: list[Edition] = field(default_factory=list)
    failures: dict[str, BuildFailed] = field(default_factory=dict)


def plan_for(edition: Edition | None, week_start: date, language: str) -> DigestPlan:
    return make_plan(edition, week_start, language, publication_settings(settings_of(current_app).site, language))


def _check_text(plan: DigestPlan) -> None:
    """Name the article holding a character MRML refuses (stored before such text was refused at the door)."""
    for article in plan.articles:
        for name in TEXT_FIELDS:
            found = first_forbidden(getattr(article, name) or "")
            if found:
                raise BuildFailed(plan.week_start, plan.language, f"its {name} contains {found}", article)


def render_plan(plan: DigestPlan) -> dict[str, Any]:
    """The edition's rendered columns, or BuildFailed."""
    _check_text(plan)
    try:
        rendered = render_digest(plan)
    except RenderError as error:
        raise BuildFailed(plan.week_start, plan.language, f"the digest did not render ({error})") from error
    return {
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
        "contents": rendered.contents,
        "source_hash": plan.fingerprint(),
        "article_count": len(plan.articles),
        "built_at": utcnow(),
    }


def by_key(week_start: date, language: str) -> Edition | None:
    return db.session.scalars(
        select(Edition)
        .where(Edition.week_start == week_start, Edition.language == language)
        .execution_options(populate_existing=True)
    ).one_or_none()


def is_stale(edition: Edition) -> bool:
    """A draft or scheduled edition whose articles, overrides or settings changed since it was rendered."""
    if edition.status not in REBUILDABLE:
        return False
    return plan_for(edition, edition.week_start, edition.language).fingerprint() != edition.source_hash


def rebuild_if_stale(edition: Edition, *, commit: bool = True) -> Edition:
    """Re-render a stale draft or scheduled edition, conditionally on its state and old fingerprint.

    With commit=False the caller moves the edition on in the same transaction (send, scheduled send).
    """
    if edition.status not in REBUILDABLE:
        return edition
    plan = plan_for(edition, edition.week_start, edition.language)
    if plan.fingerprint() == edition.source_hash:
        return edition
    content = render_plan(plan)
    db.session.execute(
        update(Edition)
        .where(Edition.id == edition.id, condition(Action.BUILD), Edition.source_hash == edition.source_hash)
        .values(**content)
        .execution_options(synchronize_session=False)
    )
    if commit:
        db.session.commit()
    db.session.refresh(edition)
    return edition


def build_edition(week_start: date, language: str) -> Edition | None:
    """Build (or refresh) one language's edition; None if that week has no articles.

    A draft or scheduled edition whose articles were all deleted since is deleted too. Raises BuildFailed.
    """
    if not week_articles(week_start, language):
        _delete_unsent(week_start, language)
        return None
    existing = by_key(week_start, language)
    if existing is not None:
        return rebuild_if_stale(existing)
    content = render_plan(plan_for(None, week_start, language))
    db.session.execute(
        dialect_insert(Edition)
        .values(week_start=week_start, language=language, status=EditionStatus.DRAFT, **content)
        .on_conflict_do_nothing(index_elements=["week_start", "language"])
    )
    db.session.commit()
    edition = by_key(week_start, language)
    assert edition is not None, "inserted just now, or by a concurrent build"
    return rebuild_if_stale(edition)


def _delete_unsent(week_start: date, language: str) -> None:
    db.session.execute(
        delete(Edition).where(
            Edition.week_start == week_start, Edition.language == language, Edition.status.in_(REBUILDABLE)
        )
    )
    db.session.commit()


def build_week_report(week_start: date, languages: list[str] | tuple[str, ...] | None = None) -> WeekBuild:
    """Build each language on its own: a language that fails is reported, the others are built."""
    result = WeekBuild()
    for language in languages or LANGUAGES:
        try:
            edition = build_edition(week_start, language)
        except BuildFailed as failure:
            db.session.rollback()
            result.failures[language] = failure
            continue
        if edition is not None:
            result.editions.append(edition)
    return result


def build_week(week_start: date, languages: list[str] | tuple[str, ...] | None = None) -> list[Edition]:
    """The week's editions that could be built; languages without articles that week get none."""
    return build_week_report(week_start, languages).editions
