"""The delivery ledger: one row per message that must reach one subscriber exactly once."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .subscribers import Consent, Subscriber



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

PRIORITY_TRANSACTIONAL = 0
PRIORITY_DIGEST = 10


class Delivery(db.Model):
    """One message to one address, from queued to sent, failed, suppressed or cancelled.

    An edition adds a row per subscriber in one statement, so `edition_id` and `subscriber_id` are plain ids,
    not foreign keys: their per-row key checks were over half of the time to enqueue 200,000 rows. The ledger
    keeps them sound itself: an enqueue reads only existing subscribers, under the edition's row lock and the
    audience lock (`ledger.lock_audience`); every deletion of subscribers first calls
    `ledger.forget_subscribers`; editions that have deliveries are never deleted; and the worker cancels a row
    whose subscriber is gone. `consent_id` (transactional rows only, NULL in bulk) keeps its foreign key.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default=DeliveryKind.DIGEST)
    priority: Mapped[int] = mapped_column(default=PRIORITY_DIGEST)
    edition_id: Mapped[int | None]
    subscriber_id: Mapped[int | None]
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"))
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

    subscriber: Mapped[Subscriber | None] = relationship(
        primaryjoin="Delivery.subscriber_id == Subscriber.id", foreign_keys="Delivery.subscriber_id"
    )
    consent: Mapped[Consent | None] = relationship()

    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index("ix_deliveries_due", "priority", "next_attempt_at", "id",
              postgresql_where=text("status = 'queued'"), sqlite_where=text("status = 'queued'")),
        Index("ix_deliveries_leased", "lease_expires_at",
              postgresql_where=text("status = 'sending'"), sqlite_where=text("status = 'sending'")),
        Index("ix_deliveries_edition_status", "edition_id", "status"),
    )


class SendThrottle(db.Model):
    """The shared send-rate clock: the next free sending slot, as seconds since the epoch."""

    __tablename__ = "send_throttle"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float, default=0.0)


class SendWindowCount(db.Model):
    """Messages handed to the relay per time bucket, for the sliding-window quota."""

    __tablename__ = "send_window_counts"

    bucket: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sent: Mapped[int] = mapped_column(default=0)
