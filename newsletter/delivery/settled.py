"""What a settled edition's log line says: how many readers failed, and how many of them were given up.

A reader whose deliveries kept being deferred for longer than NEWSLETTER_RETRY_MAX_AGE_SECONDS is failed
with the reply "gave up retrying: …" (`outcomes.deferred`). When the edition is then marked sent, one
WARNING line per edition gives the count, so a run that lost readers to a long relay outage says so.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from newsletter.core.extensions import db
from newsletter.models import Delivery
from newsletter.models.delivery import DeliveryStatus

log = logging.getLogger("newsletter.delivery.worker")
GAVE_UP_PREFIX = "gave up retrying"


def failures(edition_id: int) -> tuple[int, int]:
    """(failed, of which given up after the retry age) among the edition's deliveries."""
    failed = Delivery.status == DeliveryStatus.FAILED
    row = db.session.execute(
        select(
            func.count().filter(failed),
            func.count().filter(failed, Delivery.last_reply.like(f"{GAVE_UP_PREFIX}%")),
        ).where(Delivery.edition_id == edition_id)
    ).one()
    db.session.commit()
    return int(row[0] or 0), int(row[1] or 0)


def log_settled(edition_id: int) -> None:
    """The line for an edition just marked sent: a WARNING with the count when readers were given up."""
    failed, given_up = failures(edition_id)
    if given_up:
        log.warning(
            "edition %s: every delivery settled, marked sent with %d failed; %d readers given up after "
            "the retry age (NEWSLETTER_RETRY_MAX_AGE_SECONDS) without an answer from their server",
            edition_id,
            failed,
            given_up,
        )
    elif failed:
        log.info("edition %s: every delivery settled, marked sent with %d failed", edition_id, failed)
    else:
        log.info("edition %s: every delivery settled, marked sent", edition_id)
