"""The delivery ledger: one row per message that must reach one subscriber exactly once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    DDL,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from newsletter.models.subscribers import Consent, Subscriber


class DeliveryStatus(StrEnum):
    """One message's state in the ledger: queued and sending are pending; the others are settled."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class DeliveryKind(StrEnum):
    """What a delivery carries: a digest of an edition, or one of the transactional messages."""

    DIGEST = "digest"
    CONFIRMATION = "confirmation"
    ALREADY_SUBSCRIBED = "already_subscribed"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    ACCOUNT_LOCKED = "account_locked"


PRIORITY_TRANSACTIONAL = 0
PRIORITY_DIGEST = 10


class Delivery(Model):
    """One message to one address, from queued to sent, failed, suppressed or cancelled.

    `edition_id` and `subscriber_id` are foreign keys on both backends. On PostgreSQL the table is partitioned
    by ranges of `id` (`LEDGER_PARTITION_SPAN` each), because a key check per row was over half of the time to
    enqueue 200,000 rows: an edition's rows are loaded into a table of their own, with ids
    `edition_id × LEDGER_PARTITION_SPAN + n`, which is then attached as a partition, and the keys are checked
    once for the whole table (`newsletter.delivery.partitions`). Rows inserted one at a time (transactional
    mail) take ids from the sequence and live in `deliveries_single`. The primary key includes the partition
    key, so lookups by id read one partition; (edition, subscriber) is unique within each partition, which
    holds an edition's rows whole. Retention drops an old edition's partition.

    Before subscribers are deleted, `ledger.forget_subscribers` clears their rows' references and message.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default=DeliveryKind.DIGEST)
    priority: Mapped[int] = mapped_column(default=PRIORITY_DIGEST)
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id"))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
    recipient: Mapped[str | None] = mapped_column(String(320))
    """The address of a message to someone who is not a subscriber (an editor's account notice), else None."""
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_reply: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_deferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriber: Mapped[Subscriber | None] = relationship()
    consent: Mapped[Consent | None] = relationship()

    __table_args__ = (
        # PostgreSQL cannot hold this on the partitioned table (it lacks the partition key): each partition
        # holds it instead (`deliveries_single` below, and every edition's own partition).
        UniqueConstraint("edition_id", "subscriber_id").ddl_if(dialect="sqlite"),
        Index(
            "ix_deliveries_due",
            "priority",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index(
            "ix_deliveries_leased",
            "lease_expires_at",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        Index("ix_deliveries_edition_status", "edition_id", "status"),
        {"postgresql_partition_by": "RANGE (id)"},
    )


LEDGER_PARTITION_SPAN = 1 << 32  # ids per partition; the sequence's ids stay below it, in `deliveries_single`
SINGLE_PARTITION = "deliveries_single"

# An edition's rows are only ever loaded whole into their own partition, so no row of an edition may be
# added here one at a time: that is what keeps (edition, subscriber) unique across partitions.
event.listen(
    Delivery.__table__,
    "after_create",
    DDL(  # type: ignore[no-untyped-call]  # SQLAlchemy's DDL constructor is not annotated
        f"CREATE TABLE {SINGLE_PARTITION} PARTITION OF deliveries ("
        f"CONSTRAINT uq_{SINGLE_PARTITION}_subscriber_edition UNIQUE (subscriber_id, edition_id), "
        f"CONSTRAINT ck_{SINGLE_PARTITION}_no_edition CHECK (edition_id IS NULL)"
        f") FOR VALUES FROM (MINVALUE) TO ({LEDGER_PARTITION_SPAN})"
    ).execute_if(dialect="postgresql"),
)


def compared_with_the_models(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's `include_object`: on PostgreSQL, leave out of a comparison with the models the (edition,
    subscriber) unique constraint that each partition holds instead of the partitioned table."""
    return not (
        type_ == "unique_constraint" and name == "uq_deliveries_edition_id_subscriber_id" and compare_to is None
    )


def named_in_the_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: leave the ledger's partitions (created by DDL, one per edition) unreflected."""
    return not (type_ == "table" and name is not None and name.startswith("deliveries_"))


class SendThrottle(Model):
    """The shared send-rate clock: the next free sending slot, as seconds since the epoch."""

    __tablename__ = "send_throttle"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float, default=0.0)


class SendWindowCount(Model):
    """Messages handed to the relay per time bucket, for the sliding-window quota."""

    __tablename__ = "send_window_counts"

    bucket: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sent: Mapped[int] = mapped_column(default=0)
