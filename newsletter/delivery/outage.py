"""Riding out database trouble: how long to wait before trying again, and when to say so in the log.

The worker's loop and the outcome recorder both keep going through an outage instead of exiting or dropping
what they hold; each waits a little longer after every failed try (up to a ceiling, so it notices quickly
when the database is back) and logs one line now and then rather than one per try, which in a long outage
would bury everything else in the log.
"""

from __future__ import annotations

import time

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

CONFLICT_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure


class OutageBackoff:
    """One stretch of failed tries: the delay before the next one, whether to log now, and how long it lasted.

    `delays` are used in turn, the last one again for every further try; a log line is due at the first
    failure and then at most once every `log_every` seconds.
    """

    def __init__(self, delays: tuple[float, ...], log_every: float):
        self.delays = delays
        self.log_every = log_every
        self.since: float | None = None
        self._failures = 0
        self._logged_at = 0.0

    @property
    def ongoing(self) -> bool:
        """A try has failed since the last `reset`."""
        return self.since is not None

    def next_delay(self) -> float:
        """Count one more failed try; the seconds to wait before the next."""
        if self.since is None:
            self.since, self._failures = time.monotonic(), 0
        self._failures += 1
        return self.delays[min(self._failures, len(self.delays)) - 1]

    def should_log(self) -> bool:
        """True (and the clock starts again) when the last log line is `log_every` seconds old."""
        now = time.monotonic()
        if now - self._logged_at < self.log_every:
            return False
        self._logged_at = now
        return True

    @property
    def failures(self) -> int:
        """Failed tries in this stretch."""
        return self._failures

    def seconds_so_far(self) -> float:
        return time.monotonic() - self.since if self.since is not None else 0.0

    def reset(self) -> None:
        """A try succeeded: the next failure starts a new stretch, from the shortest delay, and is logged."""
        self.since, self._failures, self._logged_at = None, 0, 0.0


def is_outage(error: DBAPIError) -> bool:
    """A dropped connection or an unreachable server, as opposed to a statement the database refuses."""
    return bool(error.connection_invalidated) or isinstance(error, (OperationalError, InterfaceError))


def is_conflict(error: SQLAlchemyError) -> bool:
    """A deadlock or serialization failure: another transaction got in the way; trying again will do."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in CONFLICT_SQLSTATES


def discard(connection: Connection | None) -> None:
    """Close a connection that met an error without giving it back to the pool: one broken by an outage must
    not be handed out again, and one that merely failed costs a reconnect, which errors are rare enough for."""
    if connection is None:
        return
    try:
        connection.invalidate()
        connection.close()
    except SQLAlchemyError:
        pass
