"""What became of a claimed delivery: the row's new values, decided by a sender and stored by the recorder.

Each constructor is one of a sender's verdicts (sent, failed, given back, deferred with back-off); the
recorder (`recorder.py`) writes them in batches and only then counts a message as sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from newsletter.delivery.claims import Job
from newsletter.models import utcnow
from newsletter.models.delivery import DeliveryStatus


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed delivery: the row's new values, and whether the relay accepted it."""

    job: Job
    values: dict[str, Any]  # the row's new column values
    accepted: bool = False
    suppress_reason: str | None = None
    label: str = field(default="", compare=False)


def retry_delay(base: float, attempts: int) -> float:
    """Exponential backoff with jitter."""
    return base * (2.0 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)


def sent(job: Job, reply: str) -> Outcome:
    return Outcome(
        job,
        {"status": DeliveryStatus.SENT, "sent_at": utcnow(), "attempts": job.attempts + 1, "last_reply": reply[:1000]},
        accepted=True,
        label="sent",
    )


def failed(job: Job, reply: str, *, suppress: bool = False) -> Outcome:
    values = {"status": DeliveryStatus.FAILED, "attempts": job.attempts + 1, "last_reply": reply[:1000]}
    return Outcome(job, values, suppress_reason=reply[:500] if suppress else None, label="failed")


def given_back(job: Job, reason: str, *, cancelled: bool) -> Outcome:
    status = DeliveryStatus.CANCELLED if cancelled else DeliveryStatus.QUEUED
    return Outcome(job, {"status": status, "last_reply": reason[:1000]}, label="cancelled" if cancelled else "released")


def deferred(
    job: Job, reply: str, *, retry_base: float, max_age: float, throttled_until: float | None = None, count: bool = True
) -> Outcome:
    """Back to the queue with back-off; a throttled relay delays it (counting the attempt only if `count`).

    A row deferred for longer than `max_age` since its first temporary failure fails for good.
    """
    now = utcnow()
    first = job.first_deferred_at or now
    attempts = job.attempts + 1 if count else job.attempts
    if (now - first).total_seconds() > max_age:
        return failed(job, f"gave up retrying: {reply}")
    if throttled_until is not None:
        due = max(datetime.fromtimestamp(throttled_until, now.tzinfo), now)
    else:
        due = now + timedelta(seconds=retry_delay(retry_base, attempts))
    values = {
        "status": DeliveryStatus.QUEUED,
        "next_attempt_at": due,
        "attempts": attempts,
        "last_reply": reply[:1000],
        "first_deferred_at": first,
    }
    return Outcome(job, values, label="retried")
