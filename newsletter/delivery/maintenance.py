"""The worker's upkeep: lease keeping (told to its fence) and the statements it runs between claims.

Maintenance statements that meet a lock or a timeout are skipped for this round, with a log line.

The worker's sessions wait at most `lock_timeout` for a lock and run a statement at most `statement_timeout`
(`core.database.bound_sessions`). A lease renewal or a requeue refused that way (another host's transaction
holds the rows, a frozen host's session is still open) must not stop this worker: the round is skipped and
tried again at the next one. A renewal skipped too often lets the fence close (`fencing.py`): the worker then
stops sending what it may no longer hold, never sends on unfenced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar, TypeVarTuple

from sqlalchemy import Row
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from newsletter.core.extensions import db
from newsletter.delivery import claims
from newsletter.delivery.fencing import Fence
from newsletter.models import Edition
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import HELD

log = logging.getLogger(__name__)
BLOCKED_SQLSTATES = ("55P03", "57014")  # lock_not_available (lock_timeout), query_canceled (statement_timeout)
LOG_EVERY_SECONDS = 10.0
T = TypeVar("T")
Arguments = TypeVarTuple("Arguments")


class BlockedMaintenance:
    def __init__(self) -> None:
        self._logged_at: dict[str, float] = {}
        self.skipped = 0

    def attempt(self, what: str, function: Callable[[*Arguments], T], *arguments: *Arguments) -> T | None:
        """`function(*arguments)`, or None (rolled back, logged at most every `LOG_EVERY_SECONDS` per kind)
        when a lock or statement timeout ended it. Other errors propagate (an outage is the loop's to ride out)."""
        try:
            return function(*arguments)
        except DBAPIError as error:
            state = getattr(getattr(error, "orig", None), "sqlstate", None)
            if state not in BLOCKED_SQLSTATES:
                raise
            db.session.rollback()
            self.skipped += 1
            now = time.monotonic()
            if now - self._logged_at.get(what, float("-inf")) >= LOG_EVERY_SECONDS:
                self._logged_at[what] = now
                reason = "a lock held by another session" if state == "55P03" else "the statement timeout"
                log.warning("%s skipped this round: blocked by %s (%d skipped so far)", what, reason, self.skipped)
            return None


def fenced_claim(fence: Fence, worker_id: str, batch: int, lease: float, turn: int) -> list[int]:
    """`claims.claim`, its rows told to the fence with the moment the claim's transaction could start at the
    earliest (the lease the database sets counts from later)."""
    db.session.commit()
    at = fence.now()
    ids = claims.claim(worker_id, batch, lease, turn=turn)
    fence.claimed(ids, at)
    return ids


def keep_leases(
    worker_id: str,
    lease: float,
    fence: Fence,
    rows: Callable[[bool], set[int]],
    blocked: BlockedMaintenance,
    *,
    requeue: bool,
) -> None:
    """Renew the leases of the rows in hand and tell the fence which unsent ones are still held; then, if
    `requeue`, return expired rows to the queue. Either step is skipped for this round if a lock or timeout
    stops it. `rows(unsent_only)`: the rows in hand (with those whose outcome waits to be stored, or not)."""
    db.session.commit()  # the renewal's transaction (whose clock sets the leases) starts after `started`
    started = fence.now()
    held = blocked.attempt("lease renewal", claims.renew_leases, worker_id, lease, rows(False))
    if held is None:
        return
    lost = fence.renewed(rows(True), held, started)
    if lost:
        log.warning("%d claimed rows are no longer this worker's (lease ran out); not sending them", lost)
    if requeue:
        blocked.attempt("requeue of expired leases", claims.requeue_expired)


def held_statuses() -> Sequence[Row[int, EditionStatus]]:
    """(edition id, status) of the editions paused or cancelled now."""
    rows = db.session.execute(db.select(Edition.id, Edition.status).where(Edition.status.in_(HELD))).all()
    db.session.commit()
    return rows


def discard_session() -> None:
    """Give back the session's connection after a database error: rolled back it returns to the pool, which
    checks it (pre-ping) before the next use; one that cannot even roll back is closed."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.close()
