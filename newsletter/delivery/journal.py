"""The journal: each worker process appends one line per message the relay accepted, before the batched
recorder stores it; a worker that starts later on the same host stores what a killed one left unrecorded.

Why: the recorder stores outcomes in batches (every 10 ms or 100 rows). A process killed with SIGKILL lost the
accepted outcomes it had not stored yet, their rows went back to the queue and those readers got a second copy:
more than the one message in flight per SMTP connection the README promises. A plain `write` to a file opened
for appending is in the kernel once it returns, so it survives the process (not the machine: no fsync, which
would cost a disk flush per message; a host that loses power loses the recorder's last batch, as before).

Each process holds an exclusive `flock` on its own file while it lives; a starting worker replays every file
whose lock it can take (its owner is gone): marks those rows sent (only where not sent already, so a replay
twice changes nothing) and deletes the file. A file is created under a temporary name, locked, then renamed,
so no one can take a live worker's new file for an orphan. The journal is started afresh (the still unstored
lines copied over) once it has grown past `ROTATE_LINES`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.engine import Engine

from newsletter.models.delivery import Delivery, DeliveryStatus

log = logging.getLogger(__name__)
SUFFIX = ".journal"
ROTATE_LINES = 20_000
REPLAY_LOCK = ".replay.lock"


def scope_of(database_url: str) -> str:
    """A short name for the database: a journal is only ever replayed into the database it was written for."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:12]


def _file_name(scope: str, worker_id: str, generation: int) -> str:
    return f"{scope}-" + re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id) + f".{generation}{SUFFIX}"


class Journal:
    """This process's journal of accepted deliveries (thread-safe: every sender appends to it)."""

    def __init__(self, directory: str | os.PathLike[str], worker_id: str, scope: str):
        self.directory = Path(directory)
        self.scope = scope
        self.directory.mkdir(parents=True, exist_ok=True)
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._unsettled: dict[int, bytes] = {}
        self._generation = 0
        self._lines = 0
        self._fd, self.path = self._open()

    def _open(self) -> tuple[int, Path]:
        name = _file_name(self.scope, self.worker_id, self._generation)
        temporary, final = self.directory / f".{name}.new", self.directory / name
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(temporary, final)
        return fd, final

    def accepted(self, delivery_id: int, values: Mapping[str, Any]) -> None:
        """Called as soon as the relay accepted the message, before the outcome is handed to the recorder."""
        line = (json.dumps({"id": delivery_id, **_plain(values)}, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            self._unsettled[delivery_id] = line
            self._lines += 1

    def settled(self, delivery_id: int) -> None:
        """The recorder stored this delivery: its line is no longer needed (the file is started afresh now
        and then)."""
        with self._lock:
            self._unsettled.pop(delivery_id, None)
            if self._lines - len(self._unsettled) >= ROTATE_LINES:
                self._rotate()

    def _rotate(self) -> None:
        old_fd, old_path = self._fd, self.path
        self._generation += 1
        self._fd, self.path = self._open()
        kept = b"".join(self._unsettled.values())
        if kept:
            os.write(self._fd, kept)
        self._lines = len(self._unsettled)
        os.unlink(old_path)
        os.close(old_fd)

    def close(self, *, keep: bool) -> None:
        """On a clean exit: delete the file unless it still holds unstored lines (`keep`, or any unsettled)."""
        with self._lock:
            if not keep and not self._unsettled:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            os.close(self._fd)


def _plain(values: Mapping[str, Any]) -> dict[str, str]:
    return {key: value.isoformat() if isinstance(value, datetime) else str(value) for key, value in values.items()}


def replay(directory: str | os.PathLike[str], engine: Engine, worker_id: str, scope: str) -> int:
    """Store the accepted deliveries that processes gone from this host journaled but did not record; returns
    how many rows were marked sent. Files of live processes (locked) are left alone."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    # One replay at a time per directory: a worker starting beside one that is replaying waits for it, so it
    # cannot requeue (and send again) rows whose journal is being stored.
    guard = os.open(directory / REPLAY_LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)
        return _replay_all(directory, engine, worker_id, scope)
    finally:
        os.close(guard)


def _replay_all(directory: Path, engine: Engine, worker_id: str, scope: str) -> int:
    recorded = 0
    for path in sorted(directory.glob(f"{scope}-*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            rows = _read(path)
            stored = _store(engine, rows, worker_id)
            recorded += stored
            if stored:
                log.warning(
                    "journal %s of a process that is gone: %d deliveries the relay had accepted were not recorded; "
                    "stored as sent (%d lines read)",
                    path.name,
                    stored,
                    len(rows),
                )
            path.unlink()
        finally:
            os.close(fd)
    return recorded


class _Row(TypedDict):
    """One journal line as the bound values of `_store`'s statement."""

    v_id: int
    v_sent_at: datetime
    v_attempts: int
    v_last_reply: str


def _read(path: Path) -> list[_Row]:
    rows: list[_Row] = []
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
            rows.append(
                {
                    "v_id": int(entry["id"]),
                    "v_sent_at": datetime.fromisoformat(entry["sent_at"]),
                    "v_attempts": int(entry["attempts"]),
                    "v_last_reply": str(entry["last_reply"])[:1000],
                }
            )
        except (ValueError, KeyError, TypeError):  # a line torn by the kill: its message counts as in flight
            continue
    return rows


def _store(engine: Engine, rows: list[_Row], worker_id: str) -> int:
    if not rows:
        return 0
    table = cast(Table, Delivery.__table__)  # declared models map to a Table (typed as the general FromClause)
    statement = (
        table.update()
        .where(table.c.id == bindparam("v_id"), table.c.status != DeliveryStatus.SENT)
        .values(
            status=DeliveryStatus.SENT,
            sent_at=bindparam("v_sent_at"),
            attempts=bindparam("v_attempts"),
            last_reply=bindparam("v_last_reply"),
            lease_expires_at=None,
            claimed_by=worker_id,
        )
    )
    with engine.begin() as connection:
        return max(connection.execute(statement, rows).rowcount, 0)
