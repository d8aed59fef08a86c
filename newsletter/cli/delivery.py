"""`newsletter worker`: deliver queued mail, with a progress bar on a terminal and log lines otherwise."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from newsletter.cli.readiness import (
    ensure_ready,
    raise_relay_failure,
    relay_for_once,
    relay_watch,
    relay_watch_for_once,
)
from newsletter.core.config import DEFAULTS
from newsletter.core.database import bound_sessions, is_postgres
from newsletter.core.extensions import db
from newsletter.core.settings import unknown_variables
from newsletter.delivery import processes as processes_module
from newsletter.delivery import worker
from newsletter.delivery.sqlite_lock import WorkerAlreadyRunning
from newsletter.delivery.supervisor import GroupBeat

log = logging.getLogger("newsletter.worker")
LOG_EVERY_SECONDS = 5.0
STOP_GRACE_SECONDS = 10.0  # SIGTERM ends a worker within NEWSLETTER_SMTP_TIMEOUT + this, whatever the database does
STOPPED_HARD = 75
LOCK_TIMEOUT_SECONDS = 5.0  # the worker's sessions: no statement waits longer for a lock (claims skip locked rows)
STATEMENT_TIMEOUT_SECONDS = 60.0
MIN_IDLE_IN_TRANSACTION_SECONDS = 5.0  # a frozen or cut-off worker's open transaction ends after max(lease, this)
BAR_WIDTH = 28


def _rate(progress: worker.Progress) -> float:
    return progress.done / max(time.monotonic() - progress.started, 1e-6)


class TerminalProgress:
    """One self-rewriting line: bar, counts, messages per second and the time left."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def __call__(self, progress: worker.Progress) -> None:
        total = progress.done + progress.remaining
        share = progress.done / total if total else 1.0
        filled = int(share * BAR_WIDTH)
        rate = _rate(progress)
        eta = timedelta(seconds=int(progress.remaining / rate)) if rate > 0 and progress.remaining else "--:--"
        line = (
            f"\r[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {progress.done:,}/{total:,} "
            f"sent {progress.sent:,} failed {progress.failed:,} deferred {progress.retried:,}  "
            f"{rate:,.0f} msg/s  ETA {eta}   "
        )
        self.stream.write(line)
        self.stream.flush()

    def finish(self, progress: worker.Progress) -> None:
        self(progress)
        self.stream.write("\n")


class LogProgress:
    """A plain log line every few seconds (for files, pipes and service managers)."""

    def __init__(self):
        self._last = 0.0

    def __call__(self, progress: worker.Progress) -> None:
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_SECONDS:
            self._last = now
            self._line(progress)

    def _line(self, progress: worker.Progress) -> None:
        log.info(
            "delivered %d (sent %d, failed %d, cancelled %d), deferred %d, remaining %d, %.0f msg/s",
            progress.done,
            progress.sent,
            progress.failed,
            progress.cancelled,
            progress.retried,
            progress.remaining,
            _rate(progress),
        )

    def finish(self, progress: worker.Progress) -> None:
        self._line(progress)


def _stop_on_signals(stop: threading.Event, within: float) -> None:
    """SIGTERM/SIGINT stop the worker gracefully; if it has not ended `within` seconds later (a database that
    does not answer, a relay that stalls), the process ends anyway: outcomes the relay accepted are in its
    journal, which the next worker on this host stores, and every other claimed row returns with its lease."""

    def handler(_signum, _frame):
        if stop.is_set():
            return
        stop.set()
        threading.Thread(target=_end_after, args=(within,), name="stop-deadline", daemon=True).start()

    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), handler)


def _end_after(seconds: float) -> None:
    time.sleep(seconds)
    log.error("worker did not stop within %.0fs of the signal; ending now (accepted mail is in the journal)", seconds)
    logging.shutdown()
    os._exit(STOPPED_HARD)


@click.command("worker")
@click.option("--once", is_flag=True, help="Exit once every delivery is sent or permanently failed.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes sharing the queue (default: NEWSLETTER_WORKER_PROCESSES, else the CPU "
    "count on PostgreSQL and 1 on SQLite); NEWSLETTER_SMTP_CONNECTIONS is split between them.",
)
@with_appcontext
def worker_command(once: bool, processes: int | None) -> None:
    """Deliver queued mail (confirmations first, then digests)."""
    ensure_ready()
    if once:
        relay_for_once()
    config = current_app.config
    count = processes or processes_module.default_count(is_postgres(), int(config["WORKER_PROCESSES"]))
    if count > 1 and not is_postgres():
        raise click.ClickException("SQLite runs one worker process at a time; use PostgreSQL for --processes N")
    if count > 1:
        settings = processes_module.child_environment(config, (*DEFAULTS, "DATABASE_URL", "SECRET_KEY"))
        for name, _closest in unknown_variables(settings):  # reported once, by this process
            del settings[name]
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxied app, for the beat's thread
        beat = GroupBeat(app, max(1, int(config["HEARTBEAT_SECONDS"])))
        try:
            status = processes_module.run_children(count, once, int(config["SMTP_CONNECTIONS"]), settings, beat)
        finally:
            beat.close()
        if status:
            raise SystemExit(status)
        return
    reporter = TerminalProgress() if sys.stderr.isatty() else LogProgress()
    stop = threading.Event()
    _stop_on_signals(stop, within=float(config["SMTP_TIMEOUT"]) + STOP_GRACE_SECONDS)
    lease = float(config["LEASE_SECONDS"])
    bound_sessions(
        db.engine,
        lock_timeout=LOCK_TIMEOUT_SECONDS,
        statement_timeout=STATEMENT_TIMEOUT_SECONDS,
        idle_in_transaction=max(lease, MIN_IDLE_IN_TRANSACTION_SECONDS),
    )
    relay = relay_watch_for_once(stop) if once else relay_watch()
    if relay is not None and not once:
        relay.keep_asking(stop)
    try:
        result = worker.run(once=once, stop=stop, progress=reporter, relay=relay)
    except (WorkerAlreadyRunning, worker.WorkerSetupError) as error:
        raise click.ClickException(str(error)) from None
    reporter.finish(result)
    if relay is not None and relay.gave_up is not None:
        raise_relay_failure(relay.gave_up)
