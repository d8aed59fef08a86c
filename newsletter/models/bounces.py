"""What comes back: bounce and complaint reports, each tied (where it can be) to the delivery it answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class BounceKind(StrEnum):
    """What a report says about its delivery; `unrecognised` reports are kept for an operator to read.

    `hard` is about the address (suppress at once), `soft` about the mailbox for now (counted per edition),
    `about_us` about the sender (never the reader's: counted per edition and receiving domain), `complaint`
    a reader marking the mail as spam, `unsubscribe` a reader's opt-out through a feedback loop, `ignored`
    what needs nothing (auto-replies, delays, `not-spam` feedback).
    """

    HARD = "hard"
    SOFT = "soft"
    ABOUT_US = "about_us"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    IGNORED = "ignored"
    UNRECOGNISED = "unrecognised"


class BounceEvent(Model):
    """One report about one delivery (a DSN, an ARF complaint, a provider's webhook event).

    `report_key` is a digest of the report itself, unique, so a mailbox read twice or a webhook delivered
    twice records it once. `edition_id` and `subscriber_id` are copied from the delivery (plain ids, like
    the ledger's) so soft bounces count per edition and erasure finds a person's events.
    """

    __tablename__ = "bounce_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    report_key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    edition_id: Mapped[int | None]
    subscriber_id: Mapped[int | None]
    status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    """The reason-table entry that decided the kind (`no_such_address`, `blocked`, `mailbox_full`…)."""
    receiving_domain: Mapped[str | None] = mapped_column(String(255))
    """The reader's mail domain, for counting reports about us per receiving domain."""
    diagnostic: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_bounce_events_edition_kind", "edition_id", "kind"),
        Index("ix_bounce_events_subscriber_kind", "subscriber_id", "kind", "received_at"),
        Index("ix_bounce_events_kind_received", "kind", "received_at"),
    )
