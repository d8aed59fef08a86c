"""Send-rate limits shared by every worker: a DB-backed slot clock and a sliding-window quota."""

from __future__ import annotations

import logging
import threading
import time
from typing import cast

from flask import Flask
from flask_sqlalchemy.session import Session
from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import scoped_session

from newsletter.core.database import dialect_insert, is_postgres
from newsletter.core.extensions import db
from newsletter.models.delivery import SendThrottle, SendWindowCount

log = logging.getLogger(__name__)
CLOCK = "global"
WINDOW_BUCKETS = 60


class Throttle:
    """`acquire()` blocks until this worker may hand one more message to the relay."""

    def __init__(self, app: Flask, *, rate: float, window_limit: int, window_seconds: float, backoff_seconds: float):
        self.app = app
        self.rate = float(rate or 0)
        self.window_limit = int(window_limit or 0)
        self.window_seconds = max(float(window_seconds or 3600), 1.0)
        self.backoff_base = max(float(backoff_seconds), 0.01)
        self._lock = threading.Lock()
        self._slots: list[float] = []
        self._pause_until = 0.0
        self._backoff = self.backoff_base
        self.limited = bool(self.rate > 0 or self.window_limit > 0)
        self._logged_at = 0.0

    @classmethod
    def from_config(cls, app: Flask) -> Throttle:
        config = app.config
        return cls(
            app,
            rate=float(config["SEND_RATE"] or 0),
            window_limit=int(config.get("SEND_WINDOW_LIMIT") or 0),
            window_seconds=float(config.get("SEND_WINDOW_SECONDS") or 3600),
            backoff_seconds=float(config.get("THROTTLE_BACKOFF_SECONDS") or 5),
        )

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a sending slot; False if `stop` was set meanwhile."""
        while True:
            with self._lock:
                wait = self._pause_until - time.time()
                if wait <= 0 and self.limited:
                    if not self._slots:
                        self._reserve()
                    if self._slots:
                        wait = self._slots[0] - time.time()
                        if wait <= 0:
                            self._slots.pop(0)
                    else:
                        wait = 1.0
                if wait <= 0:
                    return True
            if stop is not None and stop.wait(min(wait, 1.0)):
                return False
            if stop is None:
                time.sleep(min(wait, 1.0))

    def back_off(self) -> float:
        """Pause every connection of this worker, longer each time; 0 if a pause is already running."""
        with self._lock:
            if self._pause_until > time.time():
                return 0.0
            delay = self._backoff
            self._pause_until = max(self._pause_until, time.time() + delay)
            self._backoff = min(self._backoff * 2, 300.0)
            return delay

    def succeeded(self) -> None:
        if self._backoff != self.backoff_base:
            with self._lock:
                self._backoff = self.backoff_base

    def paused_until(self) -> float:
        return self._pause_until

    def _chunk(self) -> int:
        return max(1, int(self.rate / 10)) if self.rate else 50

    def _reserve(self) -> None:
        """Take the next few slots from the shared clock; none while the database is unreachable (the caller
        waits and asks again, so a database outage holds sending back instead of ending the sender)."""
        try:
            self._reserve_from_clock()
        except SQLAlchemyError as error:  # the app context's teardown has discarded the session
            now = time.monotonic()
            if now - self._logged_at >= 30:
                self._logged_at = now
                log.warning("send-rate clock unavailable (%s); waiting", error.__class__.__name__)

    def _reserve_from_clock(self) -> None:
        with self.app.app_context():
            now = time.time()
            wanted = self._chunk()
            session = db.session
            _ensure_clock(session)
            spacing = 1.0 / self.rate if self.rate else 0.0
            greatest = func.greatest if is_postgres() else func.max
            allowed = self._window_allowance(session, now, wanted)
            if allowed <= 0:
                session.rollback()
                return
            end = session.execute(
                update(SendThrottle)
                .where(SendThrottle.name == CLOCK)
                .values(next_slot=greatest(SendThrottle.next_slot, now) + allowed * spacing)
                .returning(SendThrottle.next_slot)
            ).scalar_one()
            session.commit()
        start = end - allowed * spacing
        self._slots = [start + index * spacing for index in range(allowed)]

    def _window_allowance(self, session: scoped_session[Session], now: float, wanted: int) -> int:
        if not self.window_limit:
            return wanted
        session.execute(select(SendThrottle).where(SendThrottle.name == CLOCK).with_for_update())
        bucket_width = self.window_seconds / WINDOW_BUCKETS
        current = int(now // bucket_width)
        oldest = current - WINDOW_BUCKETS + 1
        used = session.execute(
            select(func.coalesce(func.sum(SendWindowCount.sent), 0)).where(SendWindowCount.bucket >= oldest)
        ).scalar_one()
        allowed = min(wanted, self.window_limit - int(used))
        if allowed <= 0:
            return 0
        table = cast(
            Table, SendWindowCount.__table__
        )  # declared models map to a Table (typed as the general FromClause)
        statement = dialect_insert(table).values(bucket=current, sent=allowed)
        session.execute(
            statement.on_conflict_do_update(index_elements=["bucket"], set_={"sent": table.c.sent + allowed})
        )
        session.execute(table.delete().where(SendWindowCount.bucket < oldest - WINDOW_BUCKETS))
        return allowed


def _ensure_clock(session: scoped_session[Session]) -> None:
    table = cast(Table, SendThrottle.__table__)  # declared models map to a Table (typed as the general FromClause)
    session.execute(dialect_insert(table).values(name=CLOCK, next_slot=0.0).on_conflict_do_nothing())
