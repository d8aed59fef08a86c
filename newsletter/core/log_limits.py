"""Repeated identical warnings and errors are rate-limited, so a failing dependency does not flood the log.

The first occurrence is written; identical ones within the window are counted, not written; the next one
after the window says how many were held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MAX_REMEMBERED = 1000


class RepeatFilter(logging.Filter):
    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window = window
        self.clock = clock
        self.seen: dict[tuple[str, int, str], list[float | int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        entry = self.seen.get(key)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            return False
        if entry is not None and entry[1]:
            record.msg, record.args = f"{record.getMessage()} (and {entry[1]} more like it held back)", ()
        if len(self.seen) >= MAX_REMEMBERED:
            self.seen.clear()
        self.seen[key] = [now, 0]
        return True


def limit_repeats(logger: logging.Logger | None = None) -> None:
    """Add the filter to each handler of the (root) logger once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(existing, RepeatFilter) for existing in handler.filters):
            handler.addFilter(RepeatFilter())
