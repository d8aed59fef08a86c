"""The suppression list: addresses that are never mailed again, why, since when, and which delivery showed it.

Every lookup goes through `suppression_address`, the one normal form of an address on this list (the same
form `Subscriber.email` holds, so the ledger's join on the address matches). An erased person's entry keeps
only `address_hash`, an HMAC of that normal form under the secret key: the address is gone, yet the same
address added again is recognised and its entry restored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, or_, select, update

from newsletter.core.addresses import normalise_address
from newsletter.core.database import dialect_insert
from newsletter.core.extensions import db
from newsletter.models import Suppression, utcnow
from newsletter.models.subscribers import SuppressionCause

log = logging.getLogger(__name__)
REASON_LENGTH = 500


class NotSuppressed(LookupError):
    """The address is not on the suppression list."""


def suppression_address(raw: object, *, smtp_utf8: bool) -> str:
    """The one normal form used for every suppression lookup: the project-wide one, as on subscribe and
    import (raises addresses.InvalidAddress)."""
    return normalise_address(raw, smtp_utf8=smtp_utf8)


def address_hash(address: str, secret: str) -> str:
    """The keyed hash an erased person's entry keeps instead of the address."""
    return hmac.new(secret.encode("utf-8"), f"suppression:{address}".encode(), hashlib.sha256).hexdigest()


def _entry_for(address: str, secret: str) -> Suppression | None:
    return db.session.scalar(
        select(Suppression).where(
            or_(Suppression.email == address, Suppression.email_hash == address_hash(address, secret))
        )
    )


def is_suppressed(raw: object, secret: str, *, smtp_utf8: bool) -> bool:
    return _entry_for(suppression_address(raw, smtp_utf8=smtp_utf8), secret) is not None


def suppress(
    address: str, cause: SuppressionCause, reason: str, secret: str, *, delivery_id: int | None = None
) -> bool:
    """Add an already-normalised address in the caller's transaction; False if it was listed already.

    An erased person's hashed entry for the same address gets its address back (the person is known again).
    """
    entry = _entry_for(address, secret)
    if entry is not None:
        if entry.email is None:
            entry.email, entry.email_hash = address, None
        return False
    inserted = cast(  # an INSERT's result is a CursorResult (Session.execute is typed as the general Result)
        CursorResult[Any],
        db.session.execute(
            dialect_insert(Suppression)
            .values(
                email=address,
                cause=str(cause),
                reason=reason[:REASON_LENGTH],
                delivery_id=delivery_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        ),
    ).rowcount
    if inserted:
        log.info("suppressed an address (%s, delivery %s)", cause, delivery_id)
    return bool(inserted)


def add(raw: object, reason: str, secret: str, *, smtp_utf8: bool) -> bool:
    """An operator's manual entry; commits. Returns False when the address was listed already."""
    address = suppression_address(raw, smtp_utf8=smtp_utf8)
    added = suppress(address, SuppressionCause.MANUAL, reason or "added by an operator", secret)
    db.session.commit()
    return added


def remove(raw: object, secret: str, *, smtp_utf8: bool) -> None:
    """Take an address off the list (raises NotSuppressed); commits."""
    entry = _entry_for(suppression_address(raw, smtp_utf8=smtp_utf8), secret)
    if entry is None:
        raise NotSuppressed()
    db.session.delete(entry)
    db.session.commit()
    log.info("suppression entry %s removed", entry.id)


RESTORABLE = (SuppressionCause.HARD_BOUNCE, SuppressionCause.SOFT_BOUNCES, SuppressionCause.REJECTED)
"""Causes a wrong wave of bounces can have made; complaints, manual entries and erased people's never."""


def entries(reason: str | None = None, since: datetime | None = None) -> list[Suppression]:
    """Every entry, or those whose reason contains `reason` (any case) made at or after `since`."""
    query = select(Suppression).order_by(Suppression.created_at, Suppression.id)
    return list(db.session.scalars(_matching(query, reason, since)))


def _matching(query: Select[Suppression], reason: str | None, since: datetime | None) -> Select[Suppression]:
    if reason:
        query = query.where(func.lower(Suppression.reason).contains(reason.lower(), autoescape=True))
    if since is not None:
        query = query.where(Suppression.created_at >= since)
    return query


def wave(reason: str, since: datetime) -> list[Suppression]:
    """The entries a wave of bounces made: restorable causes, reason containing `reason`, since `since`."""
    query = select(Suppression).where(Suppression.email.is_not(None), Suppression.cause.in_(RESTORABLE))
    return list(db.session.scalars(_matching(query.order_by(Suppression.created_at, Suppression.id), reason, since)))


def restore(reason: str, since: datetime) -> list[str]:
    """Take a wrong wave off the list (see `wave`); commits. Returns the addresses given back."""
    found = wave(reason, since)
    addresses = [entry.email for entry in found if entry.email is not None]  # a wave holds addresses only
    for entry in found:
        db.session.delete(entry)
    db.session.commit()
    log.info("restored %d suppressed addresses (a wave since %s)", len(addresses), since.isoformat())
    return addresses


def forget_address(address: str, secret: str) -> None:
    """On erasure, in the caller's transaction: the entry keeps the keyed hash instead of the address."""
    entry = db.session.scalar(select(Suppression).where(Suppression.email == address))
    if entry is not None:
        entry.email, entry.email_hash = None, address_hash(address, secret)


def recognise(address: str, secret: str) -> None:
    """An erased person's address seen again (they subscribe anew): its hashed entry gets the address back,
    so the ledger, which matches entries by address, skips it again. In the caller's transaction."""
    db.session.execute(
        update(Suppression)
        .where(Suppression.email_hash == address_hash(address, secret))
        .values(email=address, email_hash=None)
    )


def entry_json(entry: Suppression) -> dict[str, Any]:
    return {
        "id": entry.id,
        "email": entry.email,
        "erased": entry.email is None,
        "cause": entry.cause,
        "reason": entry.reason,
        "delivery_id": entry.delivery_id,
        "created_at": entry.created_at.isoformat(),
    }
