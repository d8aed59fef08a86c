"""The worker: claims due deliveries from the ledger and hands them to the transport."""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from ..extensions import db
from ..models import Delivery, Subscriber, utcnow
from ..models import delivery as states
from .compose import sender_address
from .transport import DeliveryError, open_transport

log = logging.getLogger(__name__)


def _due_filter(now):
    return or_(
        (Delivery.status == states.QUEUED) & (Delivery.next_attempt_at <= now),
        (Delivery.status == states.SENDING) & (Delivery.lease_expires_at < now),
    )


def claim_batch(limit: int = 100) -> list[Delivery]:
    now = utcnow()
    lease = now + timedelta(seconds=float(current_app.config["LEASE_SECONDS"]))
    rows = db.session.scalars(
        select(Delivery).where(_due_filter(now)).order_by(Delivery.priority, Delivery.id).limit(limit)
    ).all()
    for row in rows:
        row.status, row.lease_expires_at = states.SENDING, lease
    db.session.commit()
    return list(rows)


def _retry_delay(attempts: int) -> float:
    base = float(current_app.config["RETRY_BASE_SECONDS"])
    return base * (2 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)


def deliver(delivery: Delivery, transport) -> None:
    subscriber = db.session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if subscriber is None or delivery.payload is None:
        delivery.status, delivery.last_reply = states.CANCELLED, "recipient erased or nothing to send"
        db.session.commit()
        return
    delivery.attempts += 1
    try:
        reply = transport.send(sender_address(), subscriber.email, delivery.payload)
    except DeliveryError as error:
        delivery.last_reply = str(error.reply)[:1000]
        if error.temporary:
            delivery.status = states.QUEUED
            delivery.next_attempt_at = utcnow() + timedelta(seconds=_retry_delay(delivery.attempts))
        else:
            delivery.status = states.FAILED
        log.warning("delivery %s not accepted (%s)", delivery.id, delivery.last_reply)
    else:
        delivery.status, delivery.sent_at, delivery.last_reply = states.SENT, utcnow(), str(reply)[:1000]
    delivery.lease_expires_at = None
    db.session.commit()


def unsettled_count() -> int:
    return db.session.query(Delivery).filter(Delivery.status.in_([states.QUEUED, states.SENDING])).count()


def run(once: bool = False, poll_seconds: float = 1.0) -> None:
    """Deliver until stopped; with `once`, until every delivery is sent or permanently failed."""
    transport = open_transport(current_app.config)
    try:
        while True:
            batch = claim_batch()
            for delivery in batch:
                deliver(delivery, transport)
            if batch:
                continue
            if once and unsettled_count() == 0:
                return
            time.sleep(poll_seconds)
    finally:
        transport.close()
