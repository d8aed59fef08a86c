"""Is the SMTP relay usable? Connect, EHLO, STARTTLS when configured, AUTH when configured, then QUIT.

`worker` and `serve` ask at start, so a wrong host or port, a relay that refuses TLS, or a wrong password is
one clear line rather than a queue that retries for ever. `worker --once` keeps asking for a stated time
(NEWSLETTER_SMTP_PROBE_SECONDS) and then gives up with exit status 1; a long-running process says so in a
warning line, reports it in its heartbeat (`/readyz`: `smtp: unreachable`, `tls-refused`, `auth-refused`)
and asks again in the background until the relay answers.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass

from newsletter.core.settings import SmtpSettings

log = logging.getLogger(__name__)
OK = "ok"
UNREACHABLE = "unreachable"
TLS_REFUSED = "tls-refused"
AUTH_REFUSED = "auth-refused"
REFUSED = "refused"
PROBLEMS = frozenset({UNREACHABLE, TLS_REFUSED, AUTH_REFUSED, REFUSED})
AUTH_CODES = frozenset({530, 534, 535, 538})
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
BACKGROUND_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class ProbeResult:
    state: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state == OK

    def line(self, relay: str) -> str:
        """One line for the log or the terminal (the password never appears: only host and port)."""
        if self.ok:
            return f"SMTP relay {relay} answers"
        what = {
            UNREACHABLE: "cannot be reached",
            TLS_REFUSED: "refused TLS",
            AUTH_REFUSED: "refused authentication",
            REFUSED: "refused the session",
        }[self.state]
        return f"SMTP relay {relay} {what}: {self.detail}"[:400]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def probe(settings: SmtpSettings, timeout: float | None = None) -> ProbeResult:
    """One attempt at a session as the senders open it; never raises."""
    timeout = settings.timeout if timeout is None else timeout
    stage = UNREACHABLE
    connection: smtplib.SMTP | None = None
    try:
        if settings.implicit_tls:
            stage = TLS_REFUSED
            connection = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=_tls_context(settings))
        else:
            connection = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        stage = REFUSED
        code, text = connection.ehlo()
        if code != 250:
            return ProbeResult(REFUSED, f"EHLO answered {code} {_text(text)}")
        if settings.starttls:
            stage = TLS_REFUSED
            connection.starttls(context=_tls_context(settings))
            connection.ehlo()
        if settings.username:
            stage = AUTH_REFUSED
            connection.login(settings.username, settings.password or "")
        stage = OK
        connection.quit()
    except smtplib.SMTPNotSupportedError as error:
        return ProbeResult(TLS_REFUSED if stage == TLS_REFUSED else stage, str(error) or "not supported")
    except smtplib.SMTPResponseException as error:
        state = AUTH_REFUSED if error.smtp_code in AUTH_CODES else stage
        return ProbeResult(state, f"{error.smtp_code} {_text(error.smtp_error)}"[:300])
    except (smtplib.SMTPException, OSError, ValueError) as error:
        if stage == OK:  # QUIT went wrong after a complete session: the relay works
            return ProbeResult(OK)
        state = TLS_REFUSED if isinstance(error, ssl.SSLError) else stage
        return ProbeResult(state, f"{error.__class__.__name__}: {error}"[:300])
    finally:
        if connection is not None:
            connection.close()
    return ProbeResult(OK)


def probe_until(settings: SmtpSettings, seconds: float, stop: threading.Event | None = None) -> ProbeResult:
    """Ask until the relay answers or `seconds` have passed (each try bounded by the time left)."""
    deadline = time.monotonic() + max(0.0, seconds)
    stop = stop or threading.Event()
    tries = 0
    while True:
        left = deadline - time.monotonic()
        result = probe(settings, timeout=max(0.5, min(settings.timeout, left)))
        if result.ok or stop.is_set():
            return result
        delay = RETRY_DELAYS[min(tries, len(RETRY_DELAYS) - 1)]
        tries += 1
        if time.monotonic() + delay >= deadline:
            return result
        stop.wait(delay)


class RelayWatch:
    """The relay's state as a long-running process last found it; asks again in the background until it answers."""

    def __init__(self, settings: SmtpSettings, retry_seconds: float = BACKGROUND_RETRY_SECONDS):
        self.settings = settings
        self.retry_seconds = retry_seconds
        self.result = ProbeResult("unknown")
        self.gave_up: ProbeResult | None = None
        self._thread: threading.Thread | None = None

    @property
    def relay(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def problem(self) -> str | None:
        """The state when the last probe failed, else None."""
        return self.result.state if self.result.state in PROBLEMS else None

    def check(self) -> ProbeResult:
        """Probe once now; a failure is one warning line."""
        self.result = probe(self.settings)
        if not self.result.ok:
            log.warning("%s; mail waits until it answers", self.result.line(self.relay))
        return self.result

    def keep_asking(self, stop: threading.Event) -> None:
        """After a failed `check`, probe every `retry_seconds` in a thread of its own until the relay answers."""
        if self.result.ok or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._ask, args=(stop,), name="relay-probe", daemon=True)
        self._thread.start()

    def give_up_after(self, seconds: float, stop: threading.Event) -> None:
        """`--once`: probe in the background; a relay failing every probe for `seconds` sets `stop` and
        `gave_up` (the command then exits 1 with `gave_up.line`), so a relay lost mid-run ends the run too."""
        interval = max(0.2, min(5.0, seconds / 4))

        def watch() -> None:
            failing_since = None
            while not stop.wait(interval):
                result = probe(self.settings, timeout=max(0.5, min(self.settings.timeout, seconds)))
                self.result = result
                if result.ok:
                    failing_since = None
                    continue
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since >= seconds:
                    self.gave_up = result
                    stop.set()
                    return

        self._thread = threading.Thread(target=watch, name="relay-watch", daemon=True)
        self._thread.start()

    def _ask(self, stop: threading.Event) -> None:
        while not stop.wait(self.retry_seconds):
            result = probe(self.settings)
            if result.ok:
                self.result = result
                log.info("%s again", result.line(self.relay))
                return
            self.result = result
