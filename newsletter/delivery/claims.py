"""The worker's side of the ledger: claiming due rows, leases, recording outcomes, settling editions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, exists, func, select, union_all, update

from newsletter.core.database import affected_rows, id_chunks, is_postgres
from newsletter.core.extensions import db
from newsletter.delivery.ledger import cancel_queued, has_renderer
from newsletter.delivery.partitions import among_ids, in_partitions_of
from newsletter.models import Delivery, Edition, Subscriber, SubscriberLanguage, Suppression, utcnow
from newsletter.models.content import EditionStatus
from newsletter.models.delivery import PRIORITY_DIGEST, PRIORITY_TRANSACTIONAL, DeliveryKind, DeliveryStatus
from newsletter.models.lifecycle import HELD as HELD  # re-exported: the sender pool reads it from here
from newsletter.models.lifecycle import Action, condition
from newsletter.models.subscribers import CONFIRMED

RECENT_CANCEL_SECONDS = 600
PAUSED_REASON = "not sent: edition paused"


@dataclass(frozen=True)
class Job:
    """One claimed delivery with what is needed to send it."""

    delivery_id: int
    kind: str
    edition_id: int | None
    subscriber_id: int | None
    email: str | None
    payload: bytes | None
    attempts: int
    created_at: datetime
    consent_id: int | None = None
    first_deferred_at: datetime | None = None


def database_clock(offset_seconds: float = 0.0) -> ColumnElement[Any]:
    """The database server's time plus an offset, as SQL: leases compare on one clock, whatever the workers' clocks.

    SQLite stores these columns as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC; its strftime writes the same layout
    with milliseconds, so stored values and this expression order correctly as text.
    """
    if not is_postgres():
        return func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{offset_seconds:+.3f} seconds")
    return func.now() + timedelta(seconds=offset_seconds)


def _not_held() -> ColumnElement[bool]:
    return ~exists().where(Edition.id == Delivery.edition_id, Edition.status.in_(HELD))


def _claimable_partitions() -> list[ColumnElement[bool]]:
    """PostgreSQL: a condition on `id` that reads only the partitions able to hold claimable rows, that of
    rows inserted one at a time and those of editions being sent. The planner prunes every other one: a
    paused edition's (whose due rows a claim would otherwise walk past one by one) and the many settled ones
    a long-lived ledger keeps, so claims and counts cost the same whatever the ledger's age. (`_not_held`
    still guards every row.)"""
    if not is_postgres():
        return []
    sending = db.session.scalars(select(Edition.id).where(Edition.status == EditionStatus.SENDING)).all()
    return [in_partitions_of(sending)]


def claim(worker_id: str, limit: int, lease_seconds: float, turn: int = 0) -> list[int]:
    """Move up to `limit` due deliveries to `sending` under this worker's lease (SKIP LOCKED on PostgreSQL).

    Fair queues: transactional mail and digests each get half of the batch whenever both are waiting (either
    takes the other's unused half), and the ids come back interleaved, so a flood of sign-ups cannot starve
    the weekly send, nor a large send hold back confirmations: with a send rate or quota, each class keeps
    its share of it. The odd slot of an odd batch goes to each class in turn (`turn`: the worker's count of
    claims), so even a batch of one serves both.
    """
    share = limit // 2 + (limit % 2 if turn % 2 == 0 else 0)
    claiming = (worker_id, lease_seconds, _claimable_partitions())  # the same for each class's claim
    transactional = _claim_class(PRIORITY_TRANSACTIONAL, share, *claiming)
    digests = _claim_class(PRIORITY_DIGEST, limit - len(transactional), *claiming)
    room = limit - len(transactional) - len(digests)
    if room and len(transactional) == share:
        transactional += _claim_class(PRIORITY_TRANSACTIONAL, room, *claiming)
    db.session.commit()
    return _interleave(transactional, digests)


def _claim_class(
    priority: int, limit: int, worker_id: str, lease_seconds: float, claimable: Sequence[ColumnElement[bool]]
) -> list[int]:
    """One class's due rows, read off the partial index of queued rows (priority, next_attempt_at, id): the
    cost is the batch's, however many rows are sent, failed or deferred to later.

    Two statements, not an UPDATE … WHERE id IN (SELECT …): on the partitioned ledger the planner would join
    the subquery with every partition, over a hundred times slower; an UPDATE by a list of ids reads only
    the partitions the ids fall in."""
    if limit <= 0:
        return []
    due = db.session.scalars(
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.priority == priority,
            Delivery.next_attempt_at <= utcnow(),
            _not_held(),
            *claimable,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    claimed = db.session.execute(
        update(Delivery)
        .where(among_ids(due))
        .values(status=DeliveryStatus.SENDING, claimed_by=worker_id, lease_expires_at=database_clock(lease_seconds))
        .returning(Delivery.id, Delivery.next_attempt_at)
        .execution_options(synchronize_session=False)
    ).all()
    return [row.id for row in sorted(claimed, key=lambda row: (row.next_attempt_at, row.id))]


def _interleave(first: list[int], second: list[int]) -> list[int]:
    merged = [delivery_id for pair in zip(first, second, strict=False) for delivery_id in pair]
    shorter = min(len(first), len(second))
    return merged + first[shorter:] + second[shorter:]


def load_jobs(ids: list[int], worker_id: str | None = None) -> tuple[list[Job], dict[int, str]]:
    """The claimed rows that may be sent (of those still held by `worker_id`, if given), and the others with
    the reason they must not be."""
    if not ids:
        return [], {}
    held_by = [Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == worker_id] if worker_id else []
    language = and_(
        SubscriberLanguage.subscriber_id == Delivery.subscriber_id, SubscriberLanguage.language == Edition.language
    )
    rows = db.session.execute(
        select(
            Delivery.id,
            Delivery.kind,
            Delivery.edition_id,
            Delivery.subscriber_id,
            Delivery.payload,
            Delivery.attempts,
            Delivery.created_at,
            Delivery.consent_id,
            Delivery.first_deferred_at,
            func.coalesce(Subscriber.email, Delivery.recipient).label("email"),
            Subscriber.status,
            SubscriberLanguage.confirmed_at,
            Suppression.email.label("suppressed"),
            Edition.status.label("edition_status"),
        )
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .outerjoin(Edition, Edition.id == Delivery.edition_id)
        .outerjoin(SubscriberLanguage, language)
        .outerjoin(Suppression, Suppression.email == Subscriber.email)
        .where(among_ids(ids), *held_by)
    ).all()
    position = {delivery_id: index for index, delivery_id in enumerate(ids)}
    rows = sorted(rows, key=lambda row: position[row.id])
    db.session.commit()
    jobs, refused = [], {}
    for row in rows:
        reason = _refusal(row)
        if reason:
            refused[row.id] = reason
        else:
            jobs.append(
                Job(
                    row.id,
                    row.kind,
                    row.edition_id,
                    row.subscriber_id,
                    row.email,
                    row.payload,
                    row.attempts,
                    row.created_at,
                    row.consent_id,
                    row.first_deferred_at,
                )
            )
    return jobs, refused


def _refusal(row: Row[*tuple[Any, ...]]) -> str | None:
    if row.edition_status == EditionStatus.PAUSED:
        return PAUSED_REASON
    if row.edition_status == EditionStatus.CANCELLED:
        return "cancelled: edition cancelled"
    if row.email is None:
        return "cancelled: the subscriber was erased"
    if row.suppressed is not None:
        return "suppressed: the address is on the suppression list"
    if row.kind == DeliveryKind.DIGEST:
        if row.status != CONFIRMED or row.confirmed_at is None:
            return "cancelled: unsubscribed from this language"
    elif row.payload is None and not has_renderer(row.kind):
        return f"cancelled: nothing to send (no renderer for {row.kind} messages)"
    return None


def refuse(refused: dict[int, str]) -> int:
    """Settle the refused rows (paused ones go back to the queue); returns how many were cancelled or suppressed."""
    for delivery_id, reason in refused.items():
        status = DeliveryStatus.SUPPRESSED if reason.startswith("suppressed") else DeliveryStatus.CANCELLED
        if reason == PAUSED_REASON:
            status = DeliveryStatus.QUEUED
        db.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=status, last_reply=reason, lease_expires_at=None, claimed_by=None)
        )
    db.session.commit()
    return sum(reason != PAUSED_REASON for reason in refused.values())


def renew_leases(worker_id: str, lease_seconds: float, ids: set[int]) -> set[int]:
    """Extend this worker's leases on the rows it still holds in memory (`ids`), including rows whose outcome
    waits to be recorded; a row it no longer knows about is left to expire and return to the queue. Returns the
    rows whose lease was extended: any other of `ids` is no longer this worker's (see `fencing.py`)."""
    held: set[int] = set()
    for chunk in id_chunks(sorted(ids)):
        held.update(
            db.session.scalars(
                update(Delivery)
                .where(
                    Delivery.id.in_(chunk), Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == worker_id
                )
                .values(lease_expires_at=database_clock(lease_seconds))
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            ).all()
        )
    db.session.commit()
    return held


def _back_to_queue() -> ColumnElement[str]:
    """Queued again, or cancelled if the edition was cancelled meanwhile."""
    cancelled = exists().where(Edition.id == Delivery.edition_id, Edition.status == EditionStatus.CANCELLED)
    return case((cancelled, DeliveryStatus.CANCELLED), else_=DeliveryStatus.QUEUED)


REQUEUE_BATCH = 1000


def requeue_expired() -> int:
    """Rows whose worker stopped renewing its lease go back to the queue, up to `REQUEUE_BATCH` per call. Rows
    another transaction holds locked (a cut or frozen host's open transaction) are skipped, never waited for:
    they are requeued at a later call, once that session is gone. (A worker that has just seen the database
    come back waits a few seconds before calling this, so that the others can store what they kept in memory
    during the outage first.)"""
    expired = db.session.scalars(
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_expires_at < database_clock())
        .limit(REQUEUE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not expired:
        db.session.commit()
        return 0
    moved = affected_rows(
        db.session.execute(
            update(Delivery)
            .where(among_ids(expired), Delivery.status == DeliveryStatus.SENDING)
            .values(status=_back_to_queue(), claimed_by=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    return moved


def release(worker_id: str, *, except_ids: frozenset[int] = frozenset()) -> None:
    """Give back everything this worker claimed but did not send (on shutdown); rows whose outcome could not
    be recorded are left to their lease."""
    statement = update(Delivery).where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == worker_id)
    if except_ids:
        statement = statement.where(Delivery.id.notin_(except_ids))
    db.session.execute(statement.values(status=_back_to_queue(), claimed_by=None, lease_expires_at=None))
    db.session.commit()


def settle_editions() -> list[int]:
    """Cancel leftovers of recently cancelled editions; mark sending editions with nothing left as sent."""
    recent = utcnow() - timedelta(seconds=RECENT_CANCEL_SECONDS)
    cancelled = select(Edition.id).where(Edition.status == EditionStatus.CANCELLED, Edition.cancelled_at >= recent)
    for edition_id in db.session.scalars(cancelled).all():
        cancel_queued(edition_id, "edition cancelled")
    # Lock the candidates first (skipping one an editor holds, as `retry_failed` does while it queues failed
    # rows again), then look for unsettled rows in a second statement: its snapshot is taken after the locks,
    # so rows queued again by a transaction that held one are seen, and the edition is not marked sent.
    candidates = db.session.scalars(
        select(Edition.id).where(condition(Action.FINISH)).with_for_update(skip_locked=True)
    ).all()
    if not candidates:
        db.session.commit()
        return []
    unsettled = exists().where(
        Delivery.edition_id == Edition.id, Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    )
    finished = db.session.scalars(
        update(Edition)
        .where(Edition.id.in_(candidates), condition(Action.FINISH), ~unsettled)
        .values(status=EditionStatus.SENT, sent_at=utcnow())
        .returning(Edition.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return list(finished)


def outstanding() -> tuple[int, datetime | None]:
    """Deliveries still to settle (paused editions aside) and when one may next be claimable: a queued row's
    next attempt or a sending row's lease expiry, whichever is earlier.

    One arm per state, each matching that state's partial index, in one statement: two statements would see
    two moments, and miss a row that moved from sending back to queued in between."""
    claimable = _claimable_partitions()
    arms = [
        select(func.count().label("total"), func.min(moment).label("earliest")).where(
            Delivery.status == status, _not_held(), *claimable
        )
        for status, moment in (
            (DeliveryStatus.QUEUED, Delivery.next_attempt_at),
            (DeliveryStatus.SENDING, Delivery.lease_expires_at),
        )
    ]
    rows = db.session.execute(union_all(*arms)).all()
    db.session.commit()
    moments = [row.earliest for row in rows if row.earliest is not None]
    return sum(int(row.total) for row in rows), min(moments) if moments else None
