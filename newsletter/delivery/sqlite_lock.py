"""One worker at a time on SQLite: an exclusive lock file held for as long as a worker runs.

Workers share the queue through `SELECT … FOR UPDATE SKIP LOCKED`, and pause and cancel wait for the messages
in flight through advisory locks: both are PostgreSQL's. On SQLite a second worker says so and exits instead;
on PostgreSQL no lock is taken here.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from newsletter.core.database import is_postgres
from newsletter.core.extensions import db


class WorkerAlreadyRunning(RuntimeError):
    """SQLite allows one worker process at a time."""


@contextmanager
def sqlite_worker_lock(app: Flask) -> Iterator[None]:
    """An exclusive lock file next to the SQLite database (in the instance folder by default) while a worker runs."""
    if is_postgres():
        yield
        return
    database = db.engine.url.database
    in_memory = not database or database == ":memory:"
    path = Path(app.instance_path) / "worker.lock" if in_memory else Path(f"{database}.worker.lock")
    handle = open(path, "a+")  # noqa: SIM115  (held open for the whole run, closed in the finally below)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkerAlreadyRunning(
            f"another worker is already running on this SQLite database (lock held on {path}); "
            "SQLite supports one worker process at a time: stop the other one, or use PostgreSQL to run several"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
