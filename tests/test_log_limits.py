"""Repeated identical errors are written once per window, then with the count held back."""

from __future__ import annotations

import logging

from newsletter.core.log_limits import RepeatFilter


def test_identical_errors_are_held_back_within_the_window_and_counted_after():
    now = [0.0]
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    handler.addFilter(RepeatFilter(window=60, clock=lambda: now[0]))
    logger = logging.getLogger("test.repeats")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for _ in range(50):
            logger.error("relay %s refused", "smtp.example:587")
        logger.error("another problem")
        logger.info("info is never held back")
        logger.info("info is never held back")
        now[0] = 61
        logger.error("relay %s refused", "smtp.example:587")
    finally:
        logger.removeHandler(handler)
    assert records == [
        "relay smtp.example:587 refused",
        "another problem",
        "info is never held back",
        "info is never held back",
        "relay smtp.example:587 refused (and 49 more like it held back)",
    ]
