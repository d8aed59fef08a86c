"""The send gate: pause and cancel take effect before the call returns, for every worker.

A sender holds a shared advisory lock on the edition it is sending (session-level, so a dropped connection
releases it) and reads the edition's status after the lock is granted; pause and cancel take that lock
exclusively, in their transaction, before they change the status. While a sender holds the lock the status
cannot change under it, so it sends on without asking again, and lets go (then asks again: one round trip)
every `RECHECK_SECONDS`, when it turns to another edition, before any wait (an empty queue, a rate limit, a
back-off) and when the status it read holds the edition. A pause or cancel therefore waits for the messages
in flight plus at most `RECHECK_SECONDS`; once it returns, no message of the edition starts anywhere. A
sender asking again queues behind a waiting pause, so a pause is never starved.

Why not ask before every message: two round trips per message cost a third of one process's throughput
(1,392 against 2,147 msg/s in the benchmark).
(PostgreSQL. SQLite runs one worker, and the check is a plain read before each message: a pause can meet a
message whose check happened an instant before it.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from newsletter.core.extensions import db
from newsletter.delivery.outage import discard
from newsletter.models import Edition
from newsletter.models.lifecycle import HELD, Action, transition

log = logging.getLogger(__name__)
UNKNOWN = "unknown"  # the database could not say: hold this one message back, nothing else
GATE_LOCK_CLASS = 0x6E6C6761  # the first key of the two-key advisory lock; the edition id is the second
RECHECK_SECONDS = 0.05  # how long a sender sends on under the lock before it lets a pause in and asks again


def close_gate(edition_id: int) -> None:
    """In the caller's transaction, before it pauses or cancels the edition: wait for in-flight messages."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(GATE_LOCK_CLASS, edition_id)))


def pause(edition: Edition | int, reason: str | None = None) -> str:
    """Stop an edition's send; returns the new status. `reason` says why (the circuit breaker gives the relay's reply).

    The gate is closed first: this waits for messages in flight, and once it returns no worker starts another
    message of the edition. Editors pause through `editions.pause_edition`; the worker's breaker calls this."""
    close_gate(edition if isinstance(edition, int) else edition.id)
    return transition(edition, Action.PAUSE, paused_reason=reason)


class SendGate:
    """One sender thread's connection for the edition check (reopened after any database error)."""

    def __init__(self, engine: Engine, recheck_seconds: float = RECHECK_SECONDS):
        self.engine = engine
        self.recheck_seconds = recheck_seconds
        self._connection: Connection | None = None
        self._holding: int | None = None  # the edition whose shared lock this connection holds
        self._status: str | None = None
        self._checked_at = 0.0

    @contextmanager
    def passage(self, edition_id: int | None) -> Iterator[str | None]:
        """Yields the edition's status (None for mail of no edition, UNKNOWN when the database cannot say);
        no pause or cancel of the edition completes before the block ends."""
        if edition_id is None:
            self.release(only_if_stale=True)
            yield None
            return
        try:
            status = self._status_of(int(edition_id))
        except SQLAlchemyError as error:
            self._discard(error)
            yield UNKNOWN
            return
        yield status
        if status in HELD:
            self.release()

    def release(self, *, only_if_stale: bool = False) -> None:
        """Let go of the edition's lock (before waiting, or when done with it), so a pause need not wait."""
        if self._holding is None or (only_if_stale and not self._stale()):
            return
        edition_id, self._holding = self._holding, None
        if self._connection is None:  # no connection, no lock (closing or discarding one forgets the edition too)
            return
        try:
            self._connection.exec_driver_sql(f"SELECT pg_advisory_unlock_shared({GATE_LOCK_CLASS}, {edition_id})")
        except SQLAlchemyError as error:
            self._discard(error)  # closing the connection releases the lock

    def _stale(self) -> bool:
        return time.monotonic() - self._checked_at >= self.recheck_seconds

    def _status_of(self, edition_id: int) -> str | None:
        connection = self._connect()
        if connection.dialect.name != "postgresql":
            return connection.execute(select(Edition.status).where(Edition.id == edition_id)).scalar()
        if self._holding == edition_id and not self._stale():
            return self._status
        self._status = self._lock_and_read(connection, edition_id)
        self._holding, self._checked_at = edition_id, time.monotonic()
        return self._status

    def _lock_and_read(self, connection: Connection, edition_id: int) -> str | None:
        """Let go of the lock held (if any), take the edition's, then read the status in a last statement: its
        snapshot is taken after the lock is granted, so a pause or cancel that held the lock is seen. One
        round trip (simple protocol)."""
        previous = self._holding
        self._holding = None
        unlock = f"SELECT pg_advisory_unlock_shared({GATE_LOCK_CLASS}, {previous}); " if previous is not None else ""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(
                f"{unlock}SELECT pg_advisory_lock_shared({GATE_LOCK_CLASS}, {edition_id}); "
                f"SELECT status FROM editions WHERE id = {edition_id}"
            )
            while cursor.nextset():
                pass
            row = cursor.fetchone()
        except Exception as error:
            raise DBAPIError(None, None, error) from error
        finally:
            cursor.close()
        return row[0] if row else None

    def close(self) -> None:
        self._holding = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def _discard(self, error: SQLAlchemyError) -> None:
        log.warning("send gate: database error (%s); the message waits", error.__class__.__name__)
        connection, self._connection, self._holding = self._connection, None, None
        discard(connection)
