"""The delivery ledger: enqueueing editions and transactional messages (with their renderers), controls, counts."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, case, func, insert, literal, or_, select, update

from ..database import is_postgres
from ..extensions import db
from ..models import Consent, Delivery, Edition, Subscriber, SubscriberLanguage, Suppression, utcnow
from ..models.delivery import PRIORITY_DIGEST, PRIORITY_TRANSACTIONAL, DeliveryKind, DeliveryStatus
from ..models.subscribers import CONFIRMED
from ..models.types import UTCDateTime
from ..lifecycle import Action, transition

AUDIENCE_LOCK = 0x6E6C7472  # the advisory lock key of `lock_audience`


class NothingToRender(LookupError):
    """What a transactional delivery references (its subscriber or consent) is gone; the row is cancelled."""


TransactionalRenderer = Callable[[Any], bytes]
_renderers: dict[str, TransactionalRenderer] = {}


def register_transactional_renderer(kind: str, renderer: TransactionalRenderer) -> None:
    """Let the worker build messages of `kind`: `renderer(delivery) -> bytes`, called in an app context.

    `delivery` is the claimed row (`claims.Job`: delivery_id, kind, subscriber_id, consent_id, email).
    The renderer raises NothingToRender when what the row references no longer exists.
    """
    _renderers[kind] = renderer


def has_renderer(kind: str) -> bool:
    return kind in _renderers


def render_transactional(delivery) -> bytes:
    """The message of a transactional delivery: its pre-built payload, else rendered now by its kind's renderer."""
    if delivery.payload is not None:
        return delivery.payload
    renderer = _renderers.get(delivery.kind)
    if renderer is None:
        raise NothingToRender(f"no renderer for {delivery.kind} messages")
    return renderer(delivery)


def enqueue_transactional(
    subscriber: Subscriber | int,
    message: bytes | None = None,
    kind: str = DeliveryKind.CONFIRMATION,
    *,
    consent: Consent | None = None,
) -> Delivery:
    """Queue a transactional message in the caller's transaction, so it is never lost.

    The caller holds the subscriber's row lock (or has just created the row), as `subscribe` does, so an
    erasure cannot delete the subscriber between this insert and the commit.

    Without `message`, nothing is built now: the worker renders it when it sends, by `kind`,
    from the subscriber and consent the row references. Objects not yet flushed are fine.
    """
    delivery = Delivery(kind=kind, priority=PRIORITY_TRANSACTIONAL, consent=consent, payload=message)
    if isinstance(subscriber, Subscriber):
        delivery.subscriber = subscriber
    else:
        delivery.subscriber_id = subscriber
    db.session.add(delivery)
    return delivery


def _edition_id(edition: Edition | int) -> int:
    return edition if isinstance(edition, int) else edition.id


def _audience(edition_id: int, language: str, now):
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


def lock_audience(*, deleting: bool) -> None:
    """Keep enqueues and deletions of subscribers apart, for the rest of the transaction.

    The ledger holds subscriber ids without a foreign key, so an enqueue must not insert rows for a subscriber
    whose deletion commits meanwhile, nor a deletion miss rows an enqueue has not committed yet. Enqueues share
    the lock; a deletion takes it alone. PostgreSQL only: SQLite runs one writing transaction at a time anyway.
    """
    if not is_postgres():
        return
    take = func.pg_advisory_xact_lock if deleting else func.pg_advisory_xact_lock_shared
    db.session.execute(select(take(AUDIENCE_LOCK)))


def forget_subscribers(subscriber_ids: Select) -> int:
    """Before subscribers are deleted, in the caller's transaction: lock them, and make their deliveries keep
    no reference to them, nor their message or the server's reply (which may quote the address).

    `subscriber_ids` selects ids from `subscribers` by the rows' own columns. Their row locks order this with
    a request that is queueing mail for one of them (it holds the same lock); the audience lock orders it with
    enqueues. Returns the number of deliveries changed. There is no index on `subscriber_id` (every enqueue
    would pay for it): PostgreSQL reads one subscriber's rows off the (edition, subscriber) index, under 0.1 s
    per million deliveries on a small VM.
    """
    lock_audience(deleting=True)
    db.session.execute(subscriber_ids.with_for_update()).all()
    return db.session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id.in_(subscriber_ids))
        .values(subscriber_id=None, consent_id=None, payload=None, last_reply=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def enqueue_edition(edition: Edition | int) -> int:
    """Move a draft or scheduled edition to `sending` and queue one delivery per confirmed subscriber.

    One set-based INSERT … SELECT. It is a plain INSERT, not an upsert: the edition leaves draft/scheduled
    in this transaction, under its row lock, so it has no deliveries yet, and the unique key (edition,
    subscriber) stands guard. Commits, and returns the number of deliveries queued (suppressed ones not
    counted). Raises lifecycle.EditionConflict if the edition's state does not allow a send.
    """
    edition_id = _edition_id(edition)
    transition(edition_id, Action.SEND, commit=False)
    now = utcnow()
    language = db.session.scalar(select(Edition.language).where(Edition.id == edition_id))
    lock_audience(deleting=False)
    columns = ["kind", "priority", "edition_id", "subscriber_id", "status", "attempts", "next_attempt_at", "created_at"]
    statement = insert(Delivery).from_select(columns, _audience(edition_id, language, now))
    inserted = db.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount
    suppressed = db.session.scalar(
        select(func.count()).where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.SUPPRESSED)
    )
    db.session.commit()
    _expire(edition)
    return int(inserted) - int(suppressed or 0)


def _expire(edition: Edition | int) -> None:
    if isinstance(edition, Edition):
        db.session.expire(edition)


def cancel_queued(edition_id: int, reason: str) -> int:
    """Cancel the queued (not in-flight) deliveries of one edition, in the caller's transaction."""
    return db.session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.CANCELLED, last_reply=reason, lease_expires_at=None)
    ).rowcount


def edition_counts(edition_id: int) -> dict:
    """Deliveries per state, plus `total` and `next_retry_at` (ISO 8601 of the earliest pending retry, or None)."""
    rows = db.session.execute(
        select(Delivery.status, func.count()).where(Delivery.edition_id == edition_id).group_by(Delivery.status)
    ).all()
    counts: dict = {state: 0 for state in DeliveryStatus}
    counts.update({status: int(count) for status, count in rows})
    counts["total"] = sum(counts[state] for state in DeliveryStatus)
    next_retry = db.session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED,
            or_(Delivery.attempts > 0, Delivery.last_reply.is_not(None)),
        )
    )
    counts["next_retry_at"] = next_retry.isoformat() if next_retry else None
    return counts
