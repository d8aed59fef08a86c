"""Editions: building one per (week, language), scheduling, cancelling and sending them.

The unique key (week_start, language) decides which build creates an edition: the insert lets the
database drop a duplicate instead of asking first. A draft is re-rendered when its articles change;
an edition that is sending, sent or cancelled is never rebuilt.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from flask import current_app
from sqlalchemy import and_, delete, exists, select, update

from .config import LANGUAGES
from .database import dialect_insert
from .delivery import digest, ledger
from .delivery.compose import sender_address
from .delivery.transport import open_transport
from .digest_rendering import render_digest
from .extensions import db
from .models import Article, Edition, utcnow
from .models.content import EditionStatus
from .weeks import YEARS, publication_zone, week_bounds

TEMPLATE_VERSION = "digest-1"
REBUILDABLE = (EditionStatus.DRAFT, EditionStatus.SCHEDULED)


class EditionConflict(Exception):
    """The edition is in a state that does not allow this (HTTP 409)."""


class NothingToSend(ledger.SendConflict):
    """The edition's week has no articles (any more), so it is not sent (HTTP 409, a clear CLI error)."""

    def __init__(self, edition: Edition):
        super().__init__(edition.id, edition.status, "send")
        self.args = (f"edition {edition.id} has no articles (they were deleted); it cannot be sent",)


def _in_week(week_start: date, language: str):
    start, end = week_bounds(week_start)
    return and_(Article.language == language, Article.published_at >= start, Article.published_at < end)


def week_articles(week_start: date, language: str) -> list[Article]:
    query = select(Article).where(_in_week(week_start, language))
    return list(db.session.scalars(query.order_by(Article.published_at, Article.id)))


def source_hash(articles: list[Article]) -> str:
    """A digest of everything the rendering depends on, so a change in articles shows as a new hash."""
    config = current_app.config
    material = [TEMPLATE_VERSION, config["PUBLICATION_NAME"], config["BASE_URL"]] + [
        [a.id, a.section, a.title, a.summary, a.url, a.published_at.isoformat(), a.author] for a in articles
    ]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode("utf-8")).hexdigest()


def _insert_ignoring_duplicate(values: dict) -> None:
    statement = dialect_insert(Edition).values(**values).on_conflict_do_nothing(index_elements=["week_start", "language"])
    db.session.execute(statement)
    db.session.commit()


def _by_key(week_start: date, language: str) -> Edition | None:
    return db.session.scalars(
        select(Edition).where(Edition.week_start == week_start, Edition.language == language)
        .execution_options(populate_existing=True)
    ).one_or_none()


def build_edition(week_start: date, language: str) -> Edition | None:
    """Build (or refresh the draft of) one language's edition; None if that week has no articles.

    A draft or scheduled edition whose articles were all deleted since is deleted too.
    """
    articles = week_articles(week_start, language)
    if not articles:
        _delete_unsent(week_start, language)
        return None
    digest_hash = source_hash(articles)
    existing = _by_key(week_start, language)
    if existing is not None and (existing.status not in REBUILDABLE or existing.source_hash == digest_hash):
        return existing
    rendered = render_digest(language, week_start, articles)
    content = {"subject": rendered.subject, "html": rendered.html, "text": rendered.text,
               "source_hash": digest_hash, "article_count": len(articles), "built_at": utcnow()}
    _insert_ignoring_duplicate({"week_start": week_start, "language": language, "status": EditionStatus.DRAFT, **content})
    edition = _by_key(week_start, language)
    if edition.status in REBUILDABLE and edition.source_hash != digest_hash:
        db.session.execute(
            update(Edition)
            .where(Edition.id == edition.id, Edition.status.in_(REBUILDABLE),
                   Edition.source_hash == edition.source_hash)
            .values(**content)
        )
        db.session.commit()
        edition = _by_key(week_start, language)
    return edition


def _delete_unsent(week_start: date, language: str) -> None:
    db.session.execute(
        delete(Edition).where(Edition.week_start == week_start, Edition.language == language,
                              Edition.status.in_(REBUILDABLE))
    )
    db.session.commit()


def build_week(week_start: date, languages: list[str] | tuple[str, ...] | None = None) -> list[Edition]:
    """Build the week's editions; languages without articles that week get none."""
    editions = []
    for language in languages or LANGUAGES:
        edition = build_edition(week_start, language)
        if edition is not None:
            editions.append(edition)
    return editions


def list_editions(language: str | None = None, status: str | None = None) -> list[Edition]:
    query = select(Edition).order_by(Edition.week_start.desc(), Edition.language)
    if language:
        query = query.where(Edition.language == language)
    if status:
        query = query.where(Edition.status == status)
    return list(db.session.scalars(query))


def get_edition(edition_id: int) -> Edition | None:
    return db.session.get(Edition, edition_id)


def _move(edition: Edition, allowed: tuple[str, ...], what: str, **values) -> Edition:
    """Change an edition's state only if it still is in an allowed one (a conditional UPDATE)."""
    result = db.session.execute(
        update(Edition).where(Edition.id == edition.id, Edition.status.in_(allowed)).values(**values)
    )
    db.session.commit()
    db.session.refresh(edition)
    if result.rowcount != 1:
        raise EditionConflict(f"edition {edition.id} is {edition.status}; it cannot be {what}")
    return edition


def as_aware(moment: datetime) -> datetime:
    """A naive time is read in the publication's time zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=publication_zone())


class BadSendTime(ValueError):
    """A send time that is not an ISO 8601 date and time in the years 1900–2999."""


def parse_send_time(value: object) -> datetime:
    """An ISO 8601 date and time ("Z" allowed; no offset means the publication zone), or BadSendTime."""
    try:
        moment = as_aware(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except (AttributeError, TypeError, ValueError) as error:
        raise BadSendTime(f"not an ISO 8601 date and time: {value!r}") from error
    if moment.year not in YEARS:
        raise BadSendTime(f"not in the years {YEARS.start} to {YEARS.stop - 1}: {value!r}")
    return moment


def schedule_edition(edition: Edition, when: datetime) -> Edition:
    return _move(edition, REBUILDABLE, "scheduled", status=EditionStatus.SCHEDULED, scheduled_for=as_aware(when))


def cancel_edition(edition: Edition) -> Edition:
    """Cancel an edition before or during its send (the ledger's one transition; sent ones cannot be)."""
    try:
        ledger.cancel_edition(edition)
    except ledger.SendConflict as error:
        raise EditionConflict(str(error)) from error
    db.session.refresh(edition)
    return edition


def send_edition(edition: Edition) -> int:
    """Enqueue one delivery per confirmed subscriber of the edition's language (raises ledger.SendConflict).

    An edition whose week has no articles any more is refused (NothingToSend, a SendConflict).
    """
    if not db.session.scalar(select(exists().where(_in_week(edition.week_start, edition.language)))):
        db.session.rollback()
        raise NothingToSend(edition)
    return ledger.enqueue_edition(edition)


def due_scheduled_editions(now: datetime | None = None) -> list[Edition]:
    query = select(Edition).where(Edition.status == EditionStatus.SCHEDULED, Edition.scheduled_for <= (now or utcnow()))
    return list(db.session.scalars(query.order_by(Edition.scheduled_for, Edition.id)))


def send_test(edition: Edition, recipients: list[str]) -> None:
    """Send a test copy straight through the transport: marked as a test, not in the ledger, not counted."""
    transport = open_transport(current_app.config)
    try:
        for recipient in recipients:
            transport.send(sender_address(), recipient, digest.build_test_message(edition, recipient))
    finally:
        transport.close()
