"""The circuit breaker: a run of permanent refusals that are not about the recipient pauses the edition.

A relay that answers "550 5.4.5 quota exceeded" or "5.7.1 sender not authorised" to every message would
otherwise fail the whole list in seconds and mark the edition sent. Such replies say nothing about the
readers, so after `threshold` of them in a row (any success resets the run) the edition is paused with the
reply as its reason, nothing more is failed, and an editor can fix the cause, `retry-failed`, and resume.
Runs are counted per edition, so confirmations going through meanwhile do not hide a failing digest.

A relay that refuses our password (530/535 when the session opens) opens the breaker at once: every message
would meet the same answer, and retrying for days helps nobody; the edition waits, paused, for the fix.
"""

from __future__ import annotations

import threading

from newsletter.delivery.replies import CONNECT, SmtpReply

AUTH_REFUSED_CODES = frozenset({530, 534, 535, 538})


class CircuitBreaker:
    def __init__(self, threshold: int):
        self.threshold = max(1, int(threshold))
        self._runs: dict[int, int] = {}
        self._lock = threading.Lock()
        self._open: dict[int, str] = {}

    def succeeded(self, edition_id: int | None) -> None:
        """A message of the edition was accepted: its run starts again (other mail does not reset it)."""
        if edition_id is not None and self._runs.get(edition_id):
            with self._lock:
                self._runs[edition_id] = 0

    def refused(self, edition_id: int | None, reply: SmtpReply) -> bool:
        """Count a permanent refusal; True when the breaker is open for this edition (do not fail the row)."""
        if edition_id is None or not reply.systemic:
            return False
        with self._lock:
            if edition_id in self._open:
                return True
            run = self._runs.get(edition_id, 0) + 1
            self._runs[edition_id] = run
            if run < self.threshold:
                return False
            self._open[edition_id] = (
                f"paused by the circuit breaker after {run} permanent refusals in a row "
                f"that are not about the recipient; last: {reply.for_log()}"
            )[:500]
            self._runs[edition_id] = 0
            return True

    def relay_refused(self, edition_id: int | None, reply: SmtpReply) -> bool:
        """True when the relay refused to authenticate us while opening a session; the edition's breaker (if
        the message has one) opens at once, so its rows are given back rather than retried or failed."""
        if reply.stage != CONNECT or reply.code not in AUTH_REFUSED_CODES:
            return False
        if edition_id is not None:
            with self._lock:
                self._open.setdefault(
                    edition_id,
                    f"paused by the circuit breaker: the SMTP relay refused authentication ({reply.for_log()}); "
                    "fix the user name or password in NEWSLETTER_SMTP_URL, restart the worker, then resume"[:500],
                )
        return True

    def opened(self) -> dict[int, str]:
        """Editions to pause, with the reason; the worker calls `paused` once each is stored."""
        with self._lock:
            return dict(self._open)

    def paused(self, edition_id: int) -> None:
        with self._lock:
            self._open.pop(edition_id, None)
