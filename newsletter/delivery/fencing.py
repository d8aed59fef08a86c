"""The fence: a worker sends a row only while it knows it still holds the row's lease.

The rule: a row may be handed to the relay only while `(the start of the last successful renewal that covered
it, or its claim, whichever is later) + lease − margin` lies ahead, on this process's monotonic clock, and only
if no renewal has reported the row lost (requeued by another worker, or settled). The database sets the
lease's expiry after the statement starts, so the lease this process counts on never outlasts the real one;
the margin leaves room for the message to be written to the relay before another worker could requeue it.

A worker frozen (SIGSTOP), cut off from the database, or stuck behind a lock therefore stops sending once its
last renewal is `lease − margin` old, whatever its threads were doing, and its unsent backlog is dropped
without a word to the database: those rows return to the queue when their lease runs out. Only a message
already being written when the time ran out can reach a reader twice (at most one per SMTP connection).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)
MIN_MARGIN_SECONDS = 0.25
LOG_EVERY_SECONDS = 5.0


def margin_for(lease_seconds: float) -> float:
    """A third of the lease: a renewal every quarter of it may fail twice and the rows still go out."""
    return max(MIN_MARGIN_SECONDS, lease_seconds / 3)


class Fence:
    """What this worker knows about its leases, shared by the worker's loop (writer) and its senders (readers)."""

    def __init__(
        self, lease_seconds: float, margin_seconds: float | None = None, clock: Callable[[], float] = time.monotonic
    ):
        self.lease = float(lease_seconds)
        self.margin = margin_for(self.lease) if margin_seconds is None else float(margin_seconds)
        self.clock = clock
        self._lock = threading.Lock()
        self._renewed_at = float("-inf")
        self._claimed_at: dict[int, float] = {}
        self._lost: set[int] = set()
        self.dropped = 0
        self._logged_at = float("-inf")

    def now(self) -> float:
        return self.clock()

    def claimed(self, ids: Iterable[int], at: float) -> None:
        """Rows claimed by a statement that started at `at`."""
        with self._lock:
            for delivery_id in ids:
                self._claimed_at[delivery_id] = at
                self._lost.discard(delivery_id)

    def renewed(self, unsent: Iterable[int], held: Iterable[int], at: float) -> int:
        """A renewal that started at `at` extended `held`; `unsent` are the rows still to send, now (no claim
        came in between: claims and renewals take turns on the worker's loop). Those not held are lost. Only
        `unsent` rows are remembered from here on. Returns how many are lost."""
        unsent = set(unsent)
        with self._lock:
            self._renewed_at = max(self._renewed_at, at)
            self._lost = unsent - set(held)
            self._claimed_at = {key: value for key, value in self._claimed_at.items() if key in unsent}
            return len(self._lost)

    def forget(self, delivery_id: int) -> None:
        with self._lock:
            self._claimed_at.pop(delivery_id, None)
            self._lost.discard(delivery_id)

    def holds(self, delivery_id: int) -> bool:
        """True while the row's lease is known to be this worker's for at least `margin` more seconds."""
        with self._lock:
            if delivery_id in self._lost:
                return False
            since = max(self._renewed_at, self._claimed_at.get(delivery_id, float("-inf")))
        return self.clock() < since + self.lease - self.margin

    def admits(self, delivery_id: int) -> bool:
        """`holds`, for a sender about to hand the message to the relay. A row refused is dropped unsent and
        unrecorded (its row returns to the queue when the lease runs out); said in the log now and then."""
        if self.holds(delivery_id):
            return True
        with self._lock:
            self.dropped += 1
            due, now = self._logged_at + LOG_EVERY_SECONDS <= self.clock(), self.clock()
            if due:
                self._logged_at = now
        if due:
            log.warning(
                "lease not renewed for %.1fs (lease %.0fs, margin %.1fs) or row taken over: not sending what this "
                "worker may no longer hold (%d dropped so far); the rows return to the queue",
                self.renewal_age(),
                self.lease,
                self.margin,
                self.dropped,
            )
        return False

    def renewal_age(self) -> float:
        with self._lock:
            return self.clock() - self._renewed_at
