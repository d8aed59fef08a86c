"""The suppression list: addresses never mailed again (hard bounces, complaints), with their reasons."""
from __future__ import annotations

from sqlalchemy import delete, select

from .addresses import InvalidAddress, normalise_address
from .extensions import db
from .models import Suppression

PAGE = 500


def list_suppressions(limit: int = PAGE, offset: int = 0) -> list[Suppression]:
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.email)
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def remove_suppression(raw_address: object) -> bool:
    """Let the address be mailed again; False when it was not on the list (or is not an address)."""
    try:
        address = normalise_address(raw_address)
    except InvalidAddress:
        return False
    removed = db.session.execute(delete(Suppression).where(Suppression.email == address)).rowcount
    db.session.commit()
    return removed == 1
