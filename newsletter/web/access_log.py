"""Keep personal link tokens out of the access log: they act for a subscriber, like a password."""

from __future__ import annotations

import logging
import re

TOKEN_PATH = re.compile(r"/(confirm|unsubscribe|preferences)/[^\s?\"]+")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TOKEN_PATH.sub(r"/\1/[token]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact_tokens_in_access_log(logger_name: str = "werkzeug") -> None:
    """Install the filter once on the development/`serve` server's request log."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
        logger.addFilter(RedactTokens())
