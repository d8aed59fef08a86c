"""Read-only figures for the editors' console: the week at a glance, subscriber counts, a send's progress.

These are queries over the same tables the services write; the console shows them, the services act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from newsletter import editions
from newsletter.content.weeks import week_bounds, week_of
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.core.settings import settings_of
from newsletter.delivery import ledger
from newsletter.editions.plan import make_plan, publication_settings
from newsletter.models import Article, Delivery, Edition, Subscriber, SubscriberLanguage, utcnow
from newsletter.models.content import SchedulerRun, SchedulerRunLanguage
from newsletter.models.delivery import DeliveryKind, DeliveryStatus
from newsletter.models.subscribers import CONFIRMED

RATE_WINDOW_SECONDS = 60


@dataclass
class WeekRow:
    language: str
    edition: Edition | None
    recipients: int
    scheduler_outcome: str | None
    stale: bool = False


@dataclass
class WeekOverview:
    week_start: date
    rows: list[WeekRow]
    last_run: SchedulerRun | None


def audience_size(language: str) -> int:
    """How many subscribers an edition in this language would be sent to now (confirmed in that language)."""
    query = (
        select(func.count())
        .select_from(SubscriberLanguage)
        .join(Subscriber, Subscriber.id == SubscriberLanguage.subscriber_id)
        .where(
            SubscriberLanguage.language == language,
            SubscriberLanguage.confirmed_at.is_not(None),
            Subscriber.status == CONFIRMED,
        )
    )
    return int(db.session.scalar(query) or 0)


def _outcome_by_language(run: SchedulerRun | None) -> dict[str, str]:
    """Each language's outcome in the scheduler's last run for the week."""
    if run is None:
        return {}
    rows = db.session.scalars(select(SchedulerRunLanguage).where(SchedulerRunLanguage.due_at == run.due_at))
    return {row.language: row.outcome for row in rows}


def week_overview(week_start: date) -> WeekOverview:
    found = {e.language: e for e in db.session.scalars(select(Edition).where(Edition.week_start == week_start))}
    run = db.session.scalar(
        select(SchedulerRun).where(SchedulerRun.week_start == week_start).order_by(SchedulerRun.due_at.desc()).limit(1)
    )
    outcomes = _outcome_by_language(run)
    rows = [
        WeekRow(
            language,
            found.get(language),
            audience_size(language),
            outcomes.get(language),
            bool(found.get(language) and editions.is_stale(found[language])),
        )
        for language in LANGUAGES
    ]
    return WeekOverview(week_start, rows, run)


def current_and_previous_weeks(now: datetime | None = None) -> list[WeekOverview]:
    this_week = week_of(now or utcnow())
    return [week_overview(this_week), week_overview(this_week - timedelta(days=7))]


def subscriber_counts() -> dict[str, dict[str, int]]:
    """Subscribers per language and state: confirmed and pending languages, plus unsubscribed people."""
    rows = db.session.execute(
        select(
            SubscriberLanguage.language, Subscriber.status, SubscriberLanguage.confirmed_at.is_not(None), func.count()
        )
        .join(Subscriber, Subscriber.id == SubscriberLanguage.subscriber_id)
        .group_by(SubscriberLanguage.language, Subscriber.status, SubscriberLanguage.confirmed_at.is_not(None))
    ).all()
    counts = {language: {"confirmed": 0, "pending": 0, "unsubscribed": 0} for language in LANGUAGES}
    for language, status, confirmed, count in rows:
        if language not in counts:
            continue
        state = "unsubscribed" if status not in (CONFIRMED, "pending") else ("confirmed" if confirmed else "pending")
        counts[language][state] += int(count)
    return counts


@dataclass
class Progress:
    counts: dict[str, Any]  # the ledger's edition_counts: deliveries per state, `total`, `next_retry_at`
    failed_by_reason: list[tuple[str, int]] = field(default_factory=list)
    rate_per_minute: float = 0.0
    eta_seconds: int | None = None

    @property
    def done(self) -> bool:
        left: int = self.counts.get(DeliveryStatus.QUEUED, 0) + self.counts.get(DeliveryStatus.SENDING, 0)
        return left == 0


def sending_progress(edition_id: int) -> Progress:
    """Counts, the failures grouped by the server's reply, the rate over the last minute and the time left."""
    counts = ledger.edition_counts(edition_id)
    reasons = db.session.execute(
        select(Delivery.last_reply, func.count())
        .where(
            Delivery.edition_id == edition_id,
            Delivery.kind == DeliveryKind.DIGEST,
            Delivery.status == DeliveryStatus.FAILED,
        )
        .group_by(Delivery.last_reply)
        .order_by(func.count().desc())
        .limit(10)
    ).all()
    since = utcnow() - timedelta(seconds=RATE_WINDOW_SECONDS)
    recent = int(
        db.session.scalar(select(func.count()).where(Delivery.edition_id == edition_id, Delivery.sent_at >= since)) or 0
    )
    rate = recent * 60 / RATE_WINDOW_SECONDS
    left = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.SENDING, 0)
    eta = int(left * 60 / rate) if rate and left else None
    return Progress(counts, [((reason or "")[:120], int(n)) for reason, n in reasons], rate, eta)


def week_siblings(edition: Edition) -> list[Edition]:
    """The same week's editions in every language, for the side-by-side previews."""
    query = select(Edition).where(Edition.week_start == edition.week_start)
    return sorted(db.session.scalars(query), key=lambda e: LANGUAGES.index(e.language))


@dataclass
class EditorialRow:
    article: Article
    included: bool
    position: int


def editorial_rows(edition: Edition) -> list[EditorialRow]:
    """The week's articles as the digest reads them (lead first, then by section), excluded ones last."""
    plan = make_plan(
        edition,
        edition.week_start,
        edition.language,
        publication_settings(settings_of(current_app).site, edition.language),
    )
    shown = plan.articles
    rest = [a for a in editions.week_articles(edition.week_start, edition.language) if a not in shown]
    return [EditorialRow(a, True, index + 1) for index, a in enumerate(shown)] + [
        EditorialRow(a, False, len(shown) + index + 1) for index, a in enumerate(rest)
    ]


def find_articles(
    language: str | None = None, week_start: date | None = None, section: str | None = None, limit: int = 500
) -> list[Article]:
    """Articles for the console's list: by language, by the publication week they fall in, by section."""
    query = select(Article).order_by(Article.published_at.desc(), Article.id.desc())
    if language:
        query = query.where(Article.language == language)
    if week_start is not None:
        start, end = week_bounds(week_start)
        query = query.where(Article.published_at >= start, Article.published_at < end)
    if section:
        query = query.where(Article.section == section)
    return list(db.session.scalars(query.limit(limit)))


def sections() -> list[str]:
    return list(db.session.scalars(select(Article.section).distinct().order_by(Article.section)))
