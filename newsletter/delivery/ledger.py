"""The delivery ledger: enqueueing editions and transactional messages (with their renderers), controls, counts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Interval, Select, Table, bindparam, case, delete, func, insert, literal, or_, select, update

from newsletter.core.database import affected_rows, id_chunks, is_postgres
from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.delivery import partitions
from newsletter.models import (
    BounceEvent,
    BounceKind,
    Consent,
    Delivery,
    Edition,
    Subscriber,
    SubscriberLanguage,
    Suppression,
    utcnow,
)
from newsletter.models.content import EditionStatus
from newsletter.models.delivery import PRIORITY_DIGEST, PRIORITY_TRANSACTIONAL, DeliveryKind, DeliveryStatus
from newsletter.models.lifecycle import Action, transition
from newsletter.models.subscribers import CONFIRMED
from newsletter.models.types import UTCDateTime

if TYPE_CHECKING:
    from newsletter.delivery.claims import Job  # claims imports this module

log = logging.getLogger(__name__)
SETTLED = tuple(status for status in DeliveryStatus if status not in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING))


class NothingToRender(LookupError):
    """What a transactional delivery references (its subscriber or consent) is gone; the row is cancelled."""


TransactionalRenderer = Callable[["Job", Settings], bytes]
_renderers: dict[str, TransactionalRenderer] = {}


def register_transactional_renderer(kind: str, renderer: TransactionalRenderer) -> None:
    """Let the worker build messages of `kind`: `renderer(delivery, settings) -> bytes`, called in an app context.

    `delivery` is the claimed row (`claims.Job`: delivery_id, kind, subscriber_id, consent_id, email).
    The renderer raises NothingToRender when what the row references no longer exists.
    """
    _renderers[kind] = renderer


def has_renderer(kind: str) -> bool:
    return kind in _renderers


def render_transactional(delivery: Job, settings: Settings) -> bytes:
    """The message of a transactional delivery: its pre-built payload, else rendered now by its kind's renderer."""
    if delivery.payload is not None:
        return delivery.payload
    renderer = _renderers.get(delivery.kind)
    if renderer is None:
        raise NothingToRender(f"no renderer for {delivery.kind} messages")
    return renderer(delivery, settings)


def enqueue_transactional(
    subscriber: Subscriber | int | None,
    message: bytes | None = None,
    kind: str = DeliveryKind.CONFIRMATION,
    *,
    consent: Consent | None = None,
    recipient: str | None = None,
) -> Delivery:
    """Queue a transactional message in the caller's transaction, so it is never lost.

    The caller holds the subscriber's row lock (or has just created the row), as `subscribe` does, so an
    erasure cannot delete the subscriber between this insert and the commit.

    Without `message`, nothing is built now: the worker renders it when it sends, by `kind`,
    from the subscriber and consent the row references. Objects not yet flushed are fine.

    A message to someone who is not a subscriber (an editor's account notice) has no subscriber, a built
    `message` and its `recipient` address.
    """
    delivery = Delivery(
        kind=kind, priority=PRIORITY_TRANSACTIONAL, consent=consent, payload=message, recipient=recipient
    )
    if isinstance(subscriber, Subscriber):
        delivery.subscriber = subscriber
    elif subscriber is not None:
        delivery.subscriber_id = subscriber
    db.session.add(delivery)
    return delivery


def _edition_id(edition: Edition | int) -> int:
    return edition if isinstance(edition, int) else edition.id


def _audience(edition_id: int, language: str, now: datetime) -> Select[*tuple[Any, ...]]:
    """SELECT of one delivery row per confirmed subscriber of the language (suppressed ones marked so)."""
    suppressed = Subscriber.email.in_(select(Suppression.email))
    status = case((suppressed, DeliveryStatus.SUPPRESSED), else_=DeliveryStatus.QUEUED)
    timestamp = literal(now, UTCDateTime)
    return (
        select(
            literal(DeliveryKind.DIGEST),
            literal(PRIORITY_DIGEST),
            literal(edition_id),
            Subscriber.id,
            status,
            literal(0),
            timestamp,
            timestamp,
        )
        .join(SubscriberLanguage, SubscriberLanguage.subscriber_id == Subscriber.id)
        .where(
            SubscriberLanguage.language == language,
            SubscriberLanguage.confirmed_at.is_not(None),
            Subscriber.status == CONFIRMED,
        )
    )


def forget_subscribers(subscriber_ids: Select[int]) -> list[int]:
    """Before subscribers are deleted, in the caller's transaction: lock them, and make their deliveries keep
    no reference to them, nor their message or the server's reply (which may quote the address).

    `subscriber_ids` selects ids from `subscribers` by the rows' own columns; it is evaluated once, under the
    row locks (PostgreSQL re-checks its condition on the latest row version), and the ids locked are returned:
    the caller deletes exactly those, so a row that changed meanwhile (a pending request confirmed) is neither
    deleted nor left behind. The row locks order this with a request that is queueing mail for one of them (it
    holds the same lock). An edition being enqueued holds the `subscribers` table in SHARE ROW EXCLUSIVE mode,
    so the deletion waits for it to commit; the foreign key (ON DELETE SET NULL) then clears the references
    of the rows it added. Each partition finds one subscriber's rows through its (subscriber, edition) index.
    """
    locked = list(db.session.scalars(subscriber_ids.with_for_update()))
    for chunk in id_chunks(locked):
        db.session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id.in_(chunk))
            .values(subscriber_id=None, consent_id=None, payload=None, last_reply=None)
            .execution_options(synchronize_session=False)
        )
    return locked


def lock_for_enqueue() -> None:
    """Take the locks an enqueue needs, first thing in the caller's transaction (PostgreSQL; a no-op when held
    already, and on SQLite, which has one writer at a time)."""
    if is_postgres():
        partitions.lock_referenced_tables()


def enqueue_edition(edition: Edition | int) -> int:
    """Move a draft or scheduled edition to `sending` and queue one delivery per confirmed subscriber.

    One set-based INSERT … SELECT, in the transaction that moves the edition: on PostgreSQL into a table of
    the edition's own, attached as a partition of the ledger (`partitions.load_edition`), so the foreign keys
    are checked once for all rows. The edition leaves draft/scheduled under its row lock, so it has no
    deliveries yet. Commits, and returns the number of deliveries queued (suppressed ones not counted).
    Raises lifecycle.EditionConflict if the edition's state does not allow a send.
    """
    edition_id = _edition_id(edition)
    lock_for_enqueue()
    transition(edition_id, Action.SEND, commit=False)
    now = utcnow()
    language = db.session.execute(select(Edition.language).where(Edition.id == edition_id)).scalar_one()
    columns = ["kind", "priority", "edition_id", "subscriber_id", "status", "attempts", "next_attempt_at", "created_at"]
    audience = _audience(edition_id, language, now)
    if is_postgres():
        inserted, suppressed = partitions.load_edition(edition_id, columns, audience)
    else:
        statement = insert(Delivery).from_select(columns, audience)
        inserted = affected_rows(db.session.execute(statement.execution_options(preserve_rowcount=True)))
        suppressed = db.session.execute(
            select(func.count()).where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.SUPPRESSED)
        ).scalar_one()
    db.session.commit()
    _expire(edition)
    return int(inserted) - int(suppressed or 0)


def _expire(edition: Edition | int) -> None:
    if isinstance(edition, Edition):
        db.session.expire(edition)


def extend_deferrals(edition_id: int, paused_for: timedelta) -> None:
    """Move the first-deferral time of the edition's waiting retries forward by the pause, so a long pause
    cannot turn the next temporary failure into a permanent one. One UPDATE on PostgreSQL; SQLite stores
    these times as text, so there the rows are moved from Python."""
    waiting = (
        Delivery.edition_id == edition_id,
        Delivery.status == DeliveryStatus.QUEUED,
        Delivery.first_deferred_at.is_not(None),
    )
    if is_postgres():
        db.session.execute(
            update(Delivery)
            .where(*waiting)
            .values(first_deferred_at=Delivery.first_deferred_at + literal(paused_for, Interval()))
            .execution_options(synchronize_session=False)
        )
        return
    rows = db.session.execute(select(Delivery.id, Delivery.first_deferred_at).where(*waiting)).all()
    if rows:
        table = cast(Table, Delivery.__table__)  # declared models map to a Table (typed as the general FromClause)
        db.session.execute(
            table.update().where(table.c.id == bindparam("row_id")).values(first_deferred_at=bindparam("moved")),
            [{"row_id": row.id, "moved": row.first_deferred_at + paused_for} for row in rows],
        )


def requeue_failed(edition_id: int, reply_contains: str | None = None) -> int:
    """Queue an edition's failed deliveries once more (those whose reply contains `reply_contains`, if given),
    in the caller's transaction. One conditional UPDATE: a row leaves `failed` once, so two editors asking at
    the same time queue it once. Returns the number of deliveries queued."""
    statement = (
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.FAILED)
        .values(
            status=DeliveryStatus.QUEUED,
            next_attempt_at=utcnow(),
            first_deferred_at=None,
            last_reply=func.substr(
                "queued again by an editor after: " + func.coalesce(Delivery.last_reply, ""), 1, 1000
            ),
        )
        .execution_options(synchronize_session=False)
    )
    if reply_contains:
        statement = statement.where(Delivery.last_reply.contains(reply_contains, autoescape=True))
    return affected_rows(db.session.execute(statement))


def cancel_queued(edition_id: int, reason: str) -> int:
    """Cancel the queued (not in-flight) deliveries of one edition, in the caller's transaction."""
    return affected_rows(
        db.session.execute(
            update(Delivery)
            .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED)
            .values(status=DeliveryStatus.CANCELLED, last_reply=reason, lease_expires_at=None)
        )
    )


def edition_counts(edition_id: int) -> dict[str, Any]:
    """Deliveries per state, plus `total` and `next_retry_at` (ISO 8601 of the earliest pending retry, or None).

    An edition whose per-recipient rows were removed by the retention policy answers with the counts kept."""
    archived = db.session.scalar(select(Edition.archived_counts).where(Edition.id == edition_id))
    if archived:
        kept: dict[str, Any] = json.loads(archived)
        return kept
    rows = db.session.execute(
        select(Delivery.status, func.count()).where(Delivery.edition_id == edition_id).group_by(Delivery.status)
    ).all()
    counts: dict[str, Any] = {state: 0 for state in DeliveryStatus}
    counts.update({status: int(count) for status, count in rows})
    counts["total"] = sum(counts[state] for state in DeliveryStatus)
    next_retry = db.session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.edition_id == edition_id,
            Delivery.status == DeliveryStatus.QUEUED,
            or_(Delivery.attempts > 0, Delivery.last_reply.is_not(None)),
        )
    )
    counts["next_retry_at"] = next_retry.isoformat() if next_retry else None
    counts.update(bounce_counts(edition_id))
    return counts


def prune(retention_days: float, now: datetime | None = None) -> int:
    """The retention policy: remove the per-recipient rows of editions settled more than `retention_days` ago
    (their counts are kept on the edition; on PostgreSQL their partition is dropped) and of settled
    transactional mail as old. Returns rows removed.

    Bounds the ledger's growth, and with it what an erasure or a count has to read."""
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    old_editions = db.session.scalars(
        select(Edition.id).where(
            Edition.archived_counts.is_(None),
            or_(
                (Edition.status == EditionStatus.SENT) & (Edition.sent_at < cutoff),
                (Edition.status == EditionStatus.CANCELLED) & (Edition.cancelled_at < cutoff),
            ),
        )
    ).all()
    removed = 0
    for edition_id in old_editions:
        counts = edition_counts(edition_id)
        db.session.execute(update(Edition).where(Edition.id == edition_id).values(archived_counts=json.dumps(counts)))
        if is_postgres():
            dropped = partitions.drop_edition(edition_id)
            if dropped is None:
                db.session.rollback()  # the ledger is busy: this edition waits for the next round
                continue
            removed += dropped
        removed += affected_rows(db.session.execute(delete(Delivery).where(Delivery.edition_id == edition_id)))
        db.session.commit()  # one edition per transaction: short locks, and progress kept if stopped
    removed += affected_rows(
        db.session.execute(
            delete(Delivery).where(
                Delivery.edition_id.is_(None), Delivery.created_at < cutoff, Delivery.status.in_(SETTLED)
            )
        )
    )
    db.session.commit()
    if removed:
        log.info("retention: %d delivery rows older than %s days removed (counts kept)", removed, retention_days)
    return int(removed)


def bounce_counts(edition_id: int) -> dict[str, int]:
    """`bounced` (hard or soft) and `complained`: deliveries of the edition with such a report."""
    rows = dict(
        db.session.execute(
            select(BounceEvent.kind, func.count(func.distinct(BounceEvent.delivery_id)))
            .where(BounceEvent.edition_id == edition_id, BounceEvent.delivery_id.is_not(None))
            .group_by(BounceEvent.kind)
        ).all()
    )
    return {
        "bounced": int(rows.get(BounceKind.HARD, 0)) + int(rows.get(BounceKind.SOFT, 0)),
        "complained": int(rows.get(BounceKind.COMPLAINT, 0)),
    }
