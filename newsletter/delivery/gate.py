"""The send gate: pause and cancel take effect before the call returns, for every worker.

A sender checks its edition's status right before each SMTP transaction, holding a shared advisory lock on
the edition (session-level, so a dropped connection releases it) until the relay has answered; pause and
cancel take that lock exclusively, in their transaction, before they change the status. So a pause or cancel waits for the messages already in flight, and once it returns no message of the
edition starts anywhere. (PostgreSQL. SQLite runs one worker, and the check is a plain read there: a pause
can meet a message whose check happened an instant before it.)
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..extensions import db
from ..models import Edition

log = logging.getLogger(__name__)
UNKNOWN = "unknown"  # the database could not say: hold this one message back, nothing else
GATE_LOCK_CLASS = 0x6E6C6761  # the first key of the two-key advisory lock; the edition id is the second



def close_gate(edition_id: int) -> None:
    """In the caller's transaction, before it pauses or cancels the edition: wait for in-flight messages."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(GATE_LOCK_CLASS, edition_id)))


class SendGate:
    """One sender thread's connection for the per-message check (reopened after any database error)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: Connection | None = None

    @contextmanager
    def passage(self, edition_id: int | None):
        """Yields the edition's status (None for mail of no edition, UNKNOWN when the database cannot say),
        holding the gate open until the block ends."""
        if edition_id is None:
            yield None
            return
        try:
            status = self._enter(int(edition_id))
        except SQLAlchemyError as error:
            self._discard(error)
            yield UNKNOWN
            return
        try:
            yield status
        finally:
            self._leave(int(edition_id))

    def _enter(self, edition_id: int) -> str | None:
        """Take the shared lock, then read the status in a second statement: its snapshot is taken after the
        lock is granted, so a pause or cancel that held the lock is seen. One round trip (simple protocol)."""
        connection = self._connect()
        if connection.dialect.name != "postgresql":
            return connection.execute(select(Edition.status).where(Edition.id == edition_id)).scalar()
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(f"SELECT pg_advisory_lock_shared({GATE_LOCK_CLASS}, {edition_id}); "
                           f"SELECT status FROM editions WHERE id = {edition_id}")
            cursor.nextset()
            row = cursor.fetchone()
        except Exception as error:
            raise DBAPIError(None, None, error) from error
        finally:
            cursor.close()
        return row[0] if row else None

    def _leave(self, edition_id: int) -> None:
        connection = self._connection
        if connection is None or connection.dialect.name != "postgresql":
            return
        try:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock_shared({GATE_LOCK_CLASS}, {edition_id})")
        except SQLAlchemyError as error:
            self._discard(error)  # closing the connection releases the lock

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def _discard(self, error: SQLAlchemyError) -> None:
        log.warning("send gate: database error (%s); the message waits", error.__class__.__name__)
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass
