"""The delivery ledger: enqueueing messages and recording what became of each one."""
from __future__ import annotations

from ..extensions import db
from ..models import Delivery
from ..models.delivery import CONFIRMATION, PRIORITY_TRANSACTIONAL


def enqueue_transactional(subscriber_id: int, message: bytes, kind: str = CONFIRMATION) -> Delivery:
    """Queue a pre-built message; it is committed with the caller's transaction, so it is never lost."""
    delivery = Delivery(kind=kind, priority=PRIORITY_TRANSACTIONAL, subscriber_id=subscriber_id, payload=message)
    db.session.add(delivery)
    return delivery
