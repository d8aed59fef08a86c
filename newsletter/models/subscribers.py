"""Subscribers, the languages they receive, their consent records and the suppression list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"


class Subscriber(Model):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_mail_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the last answer to a subscription request (confirmation or already-subscribed notice) was queued."""
    former_fingerprint: Mapped[str | None] = mapped_column(String(16))
    """The address fingerprint of links sent before the address was normalised (migration 0005), still honoured."""

    languages: Mapped[list[SubscriberLanguage]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="SubscriberLanguage.language"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Consent.id"
    )

    @property
    def confirmed_languages(self) -> list[str]:
        return [row.language for row in self.languages if row.confirmed_at is not None]

    @property
    def pending_languages(self) -> list[str]:
        return [row.language for row in self.languages if row.confirmed_at is None]


class SubscriberLanguage(Model):
    """One language a subscriber asked for; confirmed once its confirmation link was followed."""

    __tablename__ = "subscriber_languages"

    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship(back_populates="languages")

    __table_args__ = (Index("ix_subscriber_languages_language_confirmed", "language", "confirmed_at"),)


class Consent(Model):
    """Evidence of one opt-in: what was asked, when, from where, and when it was confirmed."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    languages: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    source_page: Mapped[str | None] = mapped_column(String(500))
    consent_text_version: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_ip: Mapped[str | None] = mapped_column(String(45))
    confirm_user_agent: Mapped[str | None] = mapped_column(Text)

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")


class SuppressionCause(StrEnum):
    """Why an address must not be mailed again."""

    REJECTED = "rejected"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCES = "soft_bounces"
    COMPLAINT = "complaint"
    MANUAL = "manual"


class Suppression(Model):
    """An address that must never be mailed again, with why, when and the delivery that showed it.

    `email` holds the normalised address while its owner is known. Erasure replaces it with `email_hash`
    (an HMAC of the address under the secret key), so the address is gone but can still be recognised.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    cause: Mapped[str] = mapped_column(String(16), default=SuppressionCause.REJECTED)
    reason: Mapped[str] = mapped_column(String(500))
    delivery_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
