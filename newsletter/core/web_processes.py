"""How many web processes share this configuration, as far as can be told honestly, for one warning:
limits counted in `memory://` are per process, so with N gunicorn workers every limit is N times looser.

Told from `WEB_CONCURRENCY` (gunicorn's default for `-w`), `GUNICORN_CMD_ARGS` and the command line gunicorn
was started with (`-w N`, `--workers N`, `--workers=N`, `-wN`; a worker process keeps its master's argv).
A worker count set only in a gunicorn configuration file is not seen: the README's production section says
to use Redis for the limits whatever the count.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence


def _workers_in(arguments: Sequence[str]) -> int | None:
    found = None
    for index, argument in enumerate(arguments):
        value = None
        if argument in ("-w", "--workers") and index + 1 < len(arguments):
            value = arguments[index + 1]
        elif argument.startswith("--workers="):
            value = argument.partition("=")[2]
        elif argument.startswith("-w") and argument[2:].isdigit():
            value = argument[2:]
        if value is not None and value.strip().isdigit():
            found = int(value)
    return found


def web_worker_count(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """The number of web worker processes this process is one of (1 when nothing says more)."""
    counts = []
    concurrency = environ.get("WEB_CONCURRENCY", "").strip()
    if concurrency.isdigit():
        counts.append(int(concurrency))
    if any("gunicorn" in part for part in argv[:2]):
        command_args = _workers_in(shlex.split(environ.get("GUNICORN_CMD_ARGS", "")))
        argv_workers = _workers_in(list(argv[1:]))
        counts += [count for count in (command_args, argv_workers) if count is not None]
    return max(counts, default=1)


def memory_limits_warning(storage_url: str, limits_on: bool, workers: int) -> str | None:
    """The warning to log at start, or None when the limits are shared (Redis), off, or in one process."""
    if not limits_on or workers <= 1 or not storage_url.startswith("memory://"):
        return None
    return (
        f"rate limits are counted in memory (NEWSLETTER_RATE_LIMIT_STORAGE_URL=memory://) by each of {workers} "
        f"web processes, so every limit is {workers} times looser: set NEWSLETTER_RATE_LIMIT_STORAGE_URL="
        "redis://host:6379/0 to share them"
    )
