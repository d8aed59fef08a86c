"""Maintenance statements that meet a lock or a timeout are skipped for this round, with a log line.

The worker's sessions wait at most `lock_timeout` for a lock and run a statement at most `statement_timeout`
(`core.database.bound_sessions`). A lease renewal or a requeue refused that way (another host's transaction
holds the rows, a frozen host's session is still open) must not stop this worker: the round is skipped and
tried again at the next one. A renewal skipped too often lets the fence close (`fencing.py`): the worker then
stops sending what it may no longer hold, never sends on unfenced.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError

from newsletter.core.extensions import db

log = logging.getLogger(__name__)
BLOCKED_SQLSTATES = ("55P03", "57014")  # lock_not_available (lock_timeout), query_canceled (statement_timeout)
LOG_EVERY_SECONDS = 10.0


class BlockedMaintenance:
    def __init__(self):
        self._logged_at: dict[str, float] = {}
        self.skipped = 0

    def attempt(self, what: str, function, *arguments):
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
