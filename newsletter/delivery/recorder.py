"""Recording outcomes: one thread writes every sender's results in small batches and holds them until stored.

Why one thread and batches: a commit per message on each sender's own connection cost a fifth of the
throughput, and a sender whose connection died (an idle timeout, a proxy, a failover) lost its marks, so rows
the relay had accepted went back to the queue and were sent again without end. Here an outcome stays in memory
until a transaction that stored it has committed; a dropped connection is discarded by the pool and the batch
is written again on a fresh one, with back-off, for as long as the database takes to come back. Senders wait
(`healthy`) while the database is unreachable, so no more mail goes out than can be recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import BindParameter, Table, TextClause, Update, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from newsletter.delivery.inbox import BatchInbox
from newsletter.delivery.outage import OutageBackoff, discard, is_conflict, is_outage
from newsletter.delivery.outcomes import Outcome
from newsletter.models import Delivery, Suppression, utcnow
from newsletter.models.delivery import DeliveryStatus

log = logging.getLogger(__name__)
BATCH_SIZE = 100
BATCH_SECONDS = 0.01
OUTAGE_BACKOFF_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
OUTAGE_LOG_SECONDS = 10.0
KEEP_IDLE_SECONDS = 1.0  # how long the recorder's connection may sit unused and still be used without a ping
Shape = tuple[bool, *tuple[str, ...]]  # an outcome's shape: whether accepted, then the columns it sets (sorted)
Parameters = dict[str, Any]  # one outcome's statement parameters: `v_` and a column name, to the column's value


class OutcomeRecorder:
    """A thread that stores outcomes in batches (every `BATCH_SECONDS` or `BATCH_SIZE` rows, whichever first)."""

    def __init__(
        self,
        engine: Engine,
        *,
        worker_id: str,
        durable: bool,
        on_recorded: Callable[[Outcome], None] = lambda outcome: None,
    ):
        self.engine = engine
        self.worker_id = worker_id
        self.durable = durable
        self.on_recorded = on_recorded
        self.healthy = threading.Event()
        self.healthy.set()
        self._inbox: BatchInbox[Outcome] = BatchInbox(BATCH_SIZE, BATCH_SECONDS)
        self._pending: dict[int, Outcome] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._statements: dict[Shape, Update] = {}
        self._held: Connection | None = None
        self._held_used = 0.0
        self._thread = threading.Thread(target=self._run, name="outcome-recorder", daemon=True)
        self._thread.start()

    def put(self, outcome: Outcome) -> None:
        with self._lock:
            self._pending[outcome.job.delivery_id] = outcome
        self._inbox.put(outcome)

    def pending_ids(self) -> frozenset[int]:
        """Rows whose outcome is decided but not yet stored: they stay `sending` under this worker's lease."""
        with self._lock:
            return frozenset(self._pending)

    def wait_until_healthy(self, stop: threading.Event) -> bool:
        """Block while the database is unreachable; False if `stop` was set meanwhile."""
        while not self.healthy.wait(0.25):
            if stop.is_set():
                return False
        return True

    def close(self, timeout: float) -> frozenset[int]:
        """Store what is queued (waiting up to `timeout` for the database); returns the ids left unstored."""
        self._closing.set()
        self._inbox.close()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandon.set()
            self._thread.join(5)
        return self.pending_ids()

    def alive(self) -> bool:
        return self._thread.is_alive() or self._closing.is_set()

    def _run(self) -> None:
        while True:
            batch, done = self._inbox.take()
            try:
                if batch:
                    self._store(batch)
            except Exception:  # never let the recorder die with outcomes in hand: they stay pending
                log.exception("recording %d outcomes failed unexpectedly; they stay in memory", len(batch))
            if done or self._abandon.is_set():
                return self._release_connection()

    def _store(self, batch: list[Outcome], *, alone: bool = False) -> None:
        """Write the batch, retrying through outages and conflicts. A batch the database refuses is written
        row by row (`alone`: this is one of those rows), each again riding out an outage: only an outcome the
        database itself refuses is given up, and its lease left to expire."""
        outage = OutageBackoff(OUTAGE_BACKOFF_SECONDS, OUTAGE_LOG_SECONDS)
        while not self._abandon.is_set():
            try:
                self._write(batch)
            except DBAPIError as error:
                if is_conflict(error):  # a deadlock or serialization failure: try again, senders go on
                    log.info("recording %d outcomes met a conflicting transaction; trying again", len(batch))
                    time.sleep(OUTAGE_BACKOFF_SECONDS[0])
                    continue
                if not is_outage(error):
                    return self._refused(batch, error, alone)
                delay = outage.next_delay()
                self.healthy.clear()
                if outage.should_log():
                    log.error(
                        "database unreachable while recording %d outcomes (%s); kept in memory, retrying",
                        len(batch),
                        error.__class__.__name__,
                    )
                time.sleep(delay)
                continue
            except SQLAlchemyError as error:
                return self._refused(batch, error, alone)
            if outage.ongoing:
                log.info("database reachable again: %d outcomes recorded", len(batch))
            self.healthy.set()
            return self._recorded(batch)

    def _refused(self, batch: list[Outcome], error: SQLAlchemyError, alone: bool) -> None:
        """One row the database refuses must not cost the others: each is written on its own. A single one
        refused is dropped (with a log line); its row stays `sending` until the lease expires."""
        if not alone:
            for outcome in batch:
                self._store([outcome], alone=True)
            return
        for outcome in batch:
            log.error(
                "delivery %s: outcome could not be recorded (%s); its lease will expire",
                outcome.job.delivery_id,
                error.__class__.__name__,
            )
            with self._lock:
                self._pending.pop(outcome.job.delivery_id, None)

    def _recorded(self, batch: list[Outcome]) -> None:
        with self._lock:
            for outcome in batch:
                if self._pending.get(outcome.job.delivery_id) is outcome:
                    del self._pending[outcome.job.delivery_id]
        for outcome in batch:
            self.on_recorded(outcome)

    def _write(self, batch: list[Outcome]) -> None:
        """One transaction: runs of outcomes of one shape (in ascending id order) as one statement each (an
        executemany, or on PostgreSQL one UPDATE over arrays, whose lock order the planner picks: a deadlock
        with lease renewal is retried as a conflict); a suppression only where its row was still ours."""
        runs: list[tuple[Shape, list[Parameters]]] = []
        suppressing: list[tuple[Outcome, Shape, Parameters]] = []
        for outcome in sorted(batch, key=lambda outcome: outcome.job.delivery_id):
            shape: Shape = (outcome.accepted, *sorted(outcome.values))
            parameters: Parameters = {
                "v_id": outcome.job.delivery_id,
                "v_worker": self.worker_id,
                **{f"v_{key}": value for key, value in outcome.values.items()},
            }
            if outcome.suppress_reason and outcome.job.email:
                suppressing.append((outcome, shape, parameters))
            elif runs and runs[-1][0] == shape:
                runs[-1][1].append(parameters)
            else:
                runs.append((shape, [parameters]))
        connection = self._connection()
        try:
            with connection.begin():
                self._write_runs(connection, runs, suppressing)
        except SQLAlchemyError:
            self._drop_connection()
            raise

    def _connection(self) -> Connection:
        """The recorder's own connection, kept from one batch to the next while batches follow each other:
        checked out of the pool for each one, it was pinged each time, a round trip per batch. After a pause
        of over `KEEP_IDLE_SECONDS` it goes back to the pool, which pings it (an idle timeout, a proxy or a
        failover may have closed it meanwhile) before handing it out again. Any error drops it."""
        now = time.monotonic()
        if self._held is not None and now - self._held_used > KEEP_IDLE_SECONDS:
            self._release_connection()
        if self._held is None:
            self._held = self.engine.connect()
        self._held_used = now
        return self._held

    def _release_connection(self) -> None:
        connection, self._held = self._held, None
        try:
            if connection is not None:
                connection.close()
        except SQLAlchemyError:
            pass

    def _drop_connection(self) -> None:
        connection, self._held = self._held, None
        discard(connection)

    def _write_runs(
        self,
        connection: Connection,
        runs: list[tuple[Shape, list[Parameters]]],
        suppressing: list[tuple[Outcome, Shape, Parameters]],
    ) -> None:
        if connection.dialect.name == "postgresql" and not self.durable:
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO off")
        batched = connection.dialect.name == "postgresql"
        for shape, rows in runs:
            if batched and len(rows) > 1:
                connection.execute(_batch_update(shape), _columns_of(rows))
            else:
                connection.execute(self._statement(shape), rows)
        for outcome, shape, parameters in suppressing:
            if connection.execute(self._statement(shape), parameters).rowcount == 1:
                connection.execute(
                    _suppression_insert(connection.dialect.name),
                    {
                        "email": outcome.job.email,
                        "reason": outcome.suppress_reason,
                        "created_at": utcnow(),
                        "delivery_id": outcome.job.delivery_id,
                    },
                )

    def _statement(self, shape: Shape) -> Update:
        """An UPDATE by primary key. An accepted message is recorded whatever became of its lease (the relay
        took it, so it must never be queued again); any other outcome only while this worker holds the row."""
        statement = self._statements.get(shape)
        if statement is None:
            accepted, *columns = shape
            table = cast(Table, Delivery.__table__)  # declared models map to a Table (typed as the general FromClause)
            condition = [table.c.id == bindparam("v_id")]
            if accepted:
                condition.append(table.c.status != DeliveryStatus.SENT)
            else:
                condition += [table.c.status == DeliveryStatus.SENDING, table.c.claimed_by == bindparam("v_worker")]
            values: dict[str, BindParameter[Any] | None] = {column: bindparam(f"v_{column}") for column in columns}
            values["claimed_by"] = bindparam("v_worker") if accepted else None  # who sent it stays on record
            statement = table.update().where(*condition).values(lease_expires_at=None, **values)
            self._statements[shape] = statement
        return statement


COLUMN_TYPES = {
    "id": "bigint",
    "status": "varchar",
    "sent_at": "timestamptz",
    "attempts": "integer",
    "last_reply": "varchar",
    "next_attempt_at": "timestamptz",
    "first_deferred_at": "timestamptz",
}


@lru_cache(maxsize=32)
def _batch_update(shape: Shape) -> TextClause:
    """PostgreSQL: a run of outcomes of one shape as one UPDATE over arrays, with the conditions of
    `OutcomeRecorder._statement`. One statement is planned once for the run, where an executemany planned
    every row again (each plan prunes the ledger's partitions: tens of microseconds per row)."""
    accepted, *columns = shape
    names = ["id", *columns]
    arrays = ", ".join(f"CAST(:{name} AS {COLUMN_TYPES[name]}[])" for name in names)
    values = ", ".join(f"{column} = outcome.{column}" for column in columns)
    owner = "CAST(:worker AS varchar)" if accepted else "NULL"
    held = "d.status <> 'sent'" if accepted else "d.status = 'sending' AND d.claimed_by = :worker"
    return text(
        f"UPDATE deliveries AS d SET {values}, lease_expires_at = NULL, claimed_by = {owner} "
        f"FROM unnest({arrays}) AS outcome({', '.join(names)}) "
        f"WHERE d.id = outcome.id AND d.id = ANY(CAST(:id AS bigint[])) AND {held}"
    )


def _columns_of(rows: list[Parameters]) -> dict[str, Any]:
    """`_statement`'s parameter rows as one array per column, for `_batch_update`."""
    arrays = {name.removeprefix("v_"): [_plain(row[name]) for row in rows] for name in rows[0] if name != "v_worker"}
    return {**arrays, "worker": rows[0]["v_worker"]}


def _plain(value: object) -> object:
    return str(value) if isinstance(value, str) else value  # a StrEnum as its value, whatever the driver's rule


def _suppression_insert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    table = cast(Table, Suppression.__table__)  # declared models map to a Table (typed as the general FromClause)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing()
