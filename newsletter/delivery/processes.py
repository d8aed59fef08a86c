"""`newsletter worker --processes N`: several worker processes on one machine, sharing the queue.

One Python process is bound by its GIL well below what the wire and the relay can take, so the command starts
N children, each an ordinary `newsletter worker` claiming batches with SKIP LOCKED exactly as workers on other
machines do. NEWSLETTER_SMTP_CONNECTIONS stays the number of connections this command opens to the relay, in
all: it is split between the children. Signals are passed on; a child that dies is started again
(`supervisor.py`); a child that outlives its parent is stopped by the kernel (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from newsletter.delivery.supervisor import Process, Report, Supervisor

PR_SET_PDEATHSIG = 1
CHILD_COMMAND = "from newsletter import main; main()"


def default_count(database_is_postgres: bool, configured: int) -> int:
    """The configured count, else the CPU count on PostgreSQL and 1 on SQLite (one writer at a time)."""
    if configured > 0:
        return configured
    return max(1, os.cpu_count() or 1) if database_is_postgres else 1


def connections_per_process(total: int, processes: int) -> list[int]:
    """`total` connections split as evenly as possible, at least one per process."""
    base, extra = divmod(max(total, processes), processes)
    return [base + (index < extra) for index in range(processes)]


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the child outlives a killed parent
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_environment(config: Mapping[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """The environment plus this process's effective settings, so children run with the same configuration
    even when it was given to the app factory rather than the environment."""
    environment = dict(os.environ)
    for key in keys:
        value = config.get(key)
        if value is not None:
            environment[f"NEWSLETTER_{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return environment


def run_children(
    count: int, once: bool, connections: int, environment: Mapping[str, str], report: Report | None = None
) -> int:
    """Run `count` worker processes under supervision (`supervisor.py`); returns the worst final exit status.
    `report(configured, alive)` is called whenever the live count changes."""

    def starter(share: int) -> Callable[[], Process]:
        child_environment_ = {**environment, "NEWSLETTER_SMTP_CONNECTIONS": str(share)}
        arguments = [sys.executable, "-c", CHILD_COMMAND, "worker", "--processes", "1", *(["--once"] if once else [])]
        return lambda: subprocess.Popen(arguments, env=child_environment_, preexec_fn=_die_with_parent)

    starters = [starter(share) for share in connections_per_process(connections, count)]
    return Supervisor(starters, once, report).run()
