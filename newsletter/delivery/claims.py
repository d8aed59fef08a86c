"""The worker's side of the ledger: claiming due rows, leases, recording outcomes, settling editions."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, exists, func, select, update
from sqlalchemy.engine import Connection

from ..extensions import db
from ..models import Delivery, Edition, Subscriber, SubscriberLanguage, Suppression, utcnow
from ..models.content import EditionStatus
from ..models.delivery import DeliveryKind, DeliveryStatus
from ..models.subscribers import CONFIRMED
from ..database import dialect_insert, is_postgres
from ..lifecycle import HELD, Action, condition
from .ledger import cancel_queued, has_renderer

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


def database_clock(offset_seconds: float = 0.0):
    """The database server's time plus an offset, as SQL: leases compare on one clock, whatever the workers' clocks.

    SQLite stores these columns as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC; its strftime writes the same layout
    with milliseconds, so stored values and this expression order correctly as text.
    """
    if not is_postgres():
        return func.strftime("%Y-%m-%d %H:%M:%f", "now", f"{offset_seconds:+.3f} seconds")
    return func.now() + timedelta(seconds=offset_seconds)


def _not_held():
    return ~exists().where(Edition.id == Delivery.edition_id, Edition.status.in_(HELD))


def claim(worker_id: str, limit: int, lease_seconds: float) -> list[int]:
    """Move up to `limit` due deliveries to `sending` under this worker's lease (SKIP LOCKED on PostgreSQL)."""
    now = utcnow()
    due = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= now, _not_held())
        .order_by(Delivery.priority, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = db.session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, claimed_by=worker_id, lease_expires_at=database_clock(lease_seconds))
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return list(ids)


def load_jobs(ids: list[int]) -> tuple[list[Job], dict[int, str]]:
    """The claimed rows that may be sent, and the others with the reason they must not be."""
    if not ids:
        return [], {}
    language = and_(SubscriberLanguage.subscriber_id == Delivery.subscriber_id,
                    SubscriberLanguage.language == Edition.language)
    rows = db.session.execute(
        select(
            Delivery.id, Delivery.kind, Delivery.edition_id, Delivery.subscriber_id, Delivery.payload,
            Delivery.attempts, Delivery.created_at, Delivery.consent_id, Subscriber.email, Subscriber.status,
            SubscriberLanguage.confirmed_at, Suppression.email.label("suppressed"),
            Edition.status.label("edition_status"),
        )
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .outerjoin(Edition, Edition.id == Delivery.edition_id)
        .outerjoin(SubscriberLanguage, language)
        .outerjoin(Suppression, Suppression.email == Subscriber.email)
        .where(Delivery.id.in_(bindparam("ids", expanding=True)))
        .order_by(Delivery.priority, Delivery.id),
        {"ids": ids},
    ).all()
    db.session.commit()
    jobs, refused = [], {}
    for row in rows:
        reason = _refusal(row)
        if reason:
            refused[row.id] = reason
        else:
            jobs.append(Job(row.id, row.kind, row.edition_id, row.subscriber_id, row.email, row.payload,
                            row.attempts, row.created_at, row.consent_id))
    return jobs, refused


def _refusal(row) -> str | None:
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
            update(Delivery).where(Delivery.id == delivery_id)
            .values(status=status, last_reply=reason, lease_expires_at=None, claimed_by=None)
        )
    db.session.commit()
    return sum(reason != PAUSED_REASON for reason in refused.values())


def renew_leases(worker_id: str, lease_seconds: float, *, except_ids: frozenset[int] = frozenset()) -> None:
    """Extend this worker's leases, bar rows sent but not recorded (left to expire so they are retried)."""
    statement = update(Delivery).where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == worker_id)
    if except_ids:
        statement = statement.where(Delivery.id.notin_(except_ids))
    db.session.execute(
        statement
        .values(lease_expires_at=database_clock(lease_seconds))
    )
    db.session.commit()


def _back_to_queue():
    """Queued again, or cancelled if the edition was cancelled meanwhile."""
    cancelled = exists().where(Edition.id == Delivery.edition_id, Edition.status == EditionStatus.CANCELLED)
    return case((cancelled, DeliveryStatus.CANCELLED), else_=DeliveryStatus.QUEUED)


def requeue_expired() -> int:
    """Rows whose worker stopped renewing its lease go back to the queue."""
    moved = db.session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_expires_at < database_clock())
        .values(status=_back_to_queue(), claimed_by=None, lease_expires_at=None)
    ).rowcount
    db.session.commit()
    return moved


def release(worker_id: str, *, except_ids: frozenset[int] = frozenset()) -> None:
    """Give back everything this worker claimed but did not send (on shutdown); rows accepted by the relay but
    not recorded as sent are left to their lease."""
    statement = update(Delivery).where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == worker_id)
    if except_ids:
        statement = statement.where(Delivery.id.notin_(except_ids))
    db.session.execute(
        statement
        .values(status=_back_to_queue(), claimed_by=None, lease_expires_at=None)
    )
    db.session.commit()


def settle_editions() -> list[int]:
    """Cancel leftovers of recently cancelled editions; mark sending editions with nothing left as sent."""
    recent = utcnow() - timedelta(seconds=RECENT_CANCEL_SECONDS)
    cancelled = select(Edition.id).where(Edition.status == EditionStatus.CANCELLED, Edition.cancelled_at >= recent)
    for edition_id in db.session.scalars(cancelled).all():
        cancel_queued(edition_id, "edition cancelled")
    unsettled = exists().where(
        Delivery.edition_id == Edition.id, Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    )
    finished = db.session.scalars(
        update(Edition)
        .where(condition(Action.FINISH), ~unsettled)
        .values(status=EditionStatus.SENT, sent_at=utcnow())
        .returning(Edition.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return list(finished)


def outstanding() -> tuple[int, datetime | None]:
    """Deliveries still to settle (paused editions aside) and when one may next be claimable: a queued row's
    next attempt or a sending row's lease expiry, whichever is earlier."""
    row = db.session.execute(
        select(
            func.count(),
            func.min(Delivery.next_attempt_at).filter(Delivery.status == DeliveryStatus.QUEUED),
            func.min(Delivery.lease_expires_at).filter(Delivery.status == DeliveryStatus.SENDING),
        ).where(Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]), _not_held())
    ).one()
    db.session.commit()
    moments = [moment for moment in row[1:] if moment is not None]
    return int(row[0]), min(moments) if moments else None


def retry_delay(base: float, attempts: int) -> float:
    """Exponential backoff with jitter."""
    return base * (2 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)


class Recorder:
    """Writes one delivery's outcome in its own short transaction, on an autocommit connection owned by one thread."""

    def __init__(self, connection: Connection, *, worker_id: str, retry_base: float, max_age: float,
                 durable: bool = True):
        self.connection = connection
        self.worker_id = worker_id
        self.retry_base = retry_base
        self.max_age = max_age
        table = Delivery.__table__
        self._update = table.update().where(
            table.c.id == bindparam("delivery_id"), table.c.status == DeliveryStatus.SENDING,
            table.c.claimed_by == bindparam("worker_id"),
        )
        self._postgres = connection.dialect.name == "postgresql"
        if self._postgres and not durable:
            connection.exec_driver_sql("SET synchronous_commit TO off")
            connection.commit()
        mark = "%({})s" if self._postgres else ":{}"
        self._sent_sql = (
            f"UPDATE deliveries SET status = '{DeliveryStatus.SENT}', sent_at = {mark.format('now')}, "
            f"attempts = {mark.format('attempts')}, last_reply = {mark.format('reply')}, "
            f"lease_expires_at = NULL WHERE id = {mark.format('id')} AND status = '{DeliveryStatus.SENDING}' "
            f"AND claimed_by = {mark.format('worker')}"
        )

    def _write(self, delivery_id: int, **values) -> bool:
        """Only while this worker still holds the lease: a late write never overwrites another outcome."""
        result = self.connection.execute(self._update.values(lease_expires_at=None, claimed_by=None, **values),
                                         {"delivery_id": delivery_id, "worker_id": self.worker_id})
        self.connection.commit()
        return result.rowcount == 1

    def sent(self, job: Job, reply: str) -> bool:
        """The hot path: one prepared UPDATE, committed on its own (the connection is in autocommit mode)."""
        now = utcnow()
        stamp = now if self._postgres else now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        cursor = self.connection.connection.dbapi_connection.cursor()
        try:
            values = {"now": stamp, "attempts": job.attempts + 1, "reply": reply, "id": job.delivery_id,
                      "worker": self.worker_id}
            cursor.execute(self._sent_sql, values)
            return cursor.rowcount == 1
        finally:
            cursor.close()

    def failed(self, job: Job, reply: str, *, suppress: bool = False) -> None:
        recorded = self._write(job.delivery_id, status=DeliveryStatus.FAILED, attempts=job.attempts + 1, last_reply=reply)
        if recorded and suppress and job.email:
            self.connection.execute(
                dialect_insert(Suppression.__table__).values(email=job.email, reason=reply[:500], created_at=utcnow())
                .on_conflict_do_nothing()
            )
            self.connection.commit()

    def retry(self, job: Job, reply: str, *, throttled_until: float | None = None, count: bool = False) -> None:
        """Back to the queue; a throttled relay delays it without counting the attempt unless `count` is set."""
        now = utcnow()
        if (now - job.created_at).total_seconds() > self.max_age:
            return self._write(job.delivery_id, status=DeliveryStatus.FAILED, attempts=job.attempts + 1,
                               last_reply=f"gave up retrying: {reply}"[:1000])
        if throttled_until is not None:
            due = datetime.fromtimestamp(throttled_until, now.tzinfo)
            attempts = job.attempts + 1 if count else job.attempts
            return self._write(job.delivery_id, status=DeliveryStatus.QUEUED, next_attempt_at=max(due, now),
                               attempts=attempts, last_reply=reply)
        attempts = job.attempts + 1
        due = now + timedelta(seconds=retry_delay(self.retry_base, attempts))
        self._write(job.delivery_id, status=DeliveryStatus.QUEUED, next_attempt_at=due, attempts=attempts, last_reply=reply)

    def give_back(self, job: Job, reason: str, *, cancelled: bool) -> None:
        status = DeliveryStatus.CANCELLED if cancelled else DeliveryStatus.QUEUED
        self._write(job.delivery_id, status=status, last_reply=reason)
