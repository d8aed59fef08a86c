"""The worker: claims due deliveries in batches and feeds them to the SMTP pool until done or stopped."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from newsletter.core.extensions import db
from newsletter.core.settings import smtp_settings
from newsletter.delivery import claims, gate, journal, settled
from newsletter.delivery.digest import DigestTemplate
from newsletter.delivery.fencing import Fence
from newsletter.delivery.maintenance import (
    BlockedMaintenance,
    discard_session,
    fenced_claim,
    held_statuses,
    keep_leases,
)
from newsletter.delivery.outage import OutageBackoff, is_conflict
from newsletter.delivery.pool import SenderPool
from newsletter.delivery.signing import DkimSigner, signer_from_config
from newsletter.delivery.sqlite_lock import sqlite_worker_lock
from newsletter.delivery.throttle import Throttle
from newsletter.models import Edition
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import EditionConflict
from newsletter.operations import heartbeats

log = logging.getLogger(__name__)
MAINTENANCE_SECONDS = 0.25
REPORT_SECONDS = 1.0
IDLE_POLL_SECONDS = 0.5
OUTAGE_BACKOFF_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
OUTAGE_LOG_SECONDS = 30.0
REQUEUE_GRACE_SECONDS = 10.0


class WorkerSetupError(RuntimeError):
    """The worker cannot start or keep running (bad SMTP settings, no sender thread alive)."""


@dataclass
class Progress:
    sent: int
    failed: int
    retried: int
    cancelled: int
    remaining: int
    started: float

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.cancelled


def run(
    once: bool = False,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[Progress], None] | None = None,
    poll_seconds: float = 1.0,
    relay: heartbeats.RelayState | None = None,
) -> Progress:
    """Deliver until stopped; with `once`, until every delivery (paused editions aside) is settled. `relay` is
    the start-up probe's `RelayWatch`, whose state the heartbeat reports until mail goes through."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's own method, untyped
    with sqlite_worker_lock(app):
        return Worker(app, stop or threading.Event(), progress, poll_seconds, relay).run(once)


class Worker:
    def __init__(
        self,
        app: Flask,
        stop: threading.Event,
        progress: Callable[[Progress], None] | None,
        poll_seconds: float,
        relay: heartbeats.RelayState | None = None,
    ):
        config = app.config
        self.app = app
        self.stop = stop
        self.report = progress
        self.poll_seconds = poll_seconds
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch = max(1, int(config["WORKER_BATCH_SIZE"]))
        self.lease = float(config["LEASE_SECONDS"])
        if config.get("SMTP_URL"):
            try:
                smtp_settings(config)
            except ValueError as error:
                raise WorkerSetupError(f"invalid SMTP settings: {error}") from None
        try:
            signer = signer_from_config(config)
        except ValueError as error:
            raise WorkerSetupError(str(error)) from None
        self.throttle = Throttle.from_config(app)
        self.fence = Fence(self.lease)
        self.journal_dir = config["JOURNAL_DIR"]
        self.journal_scope = journal.scope_of(str(config["DATABASE_URL"]))
        self.journal = journal.Journal(self.journal_dir, self.worker_id, self.journal_scope)
        self.pool = _open_pool(app, self.worker_id, self.throttle, stop, signer, self.fence, self.journal)
        self.started = time.monotonic()
        self._last_maintenance = 0.0
        self._last_lease_check = 0.0
        self._lease_check_seconds = max(MAINTENANCE_SECONDS, self.lease / 4)
        self._last_report = 0.0
        self._outage = OutageBackoff(OUTAGE_BACKOFF_SECONDS, OUTAGE_LOG_SECONDS)
        self._unloaded: list[int] = []
        self._blocked = BlockedMaintenance()
        self._claims = 0  # claims made: whose turn the odd slot of a batch is
        self._requeue_not_before = 0.0
        self.heartbeat = heartbeats.WorkerBeat(self.worker_id, config, relay)

    def run(self, once: bool) -> Progress:
        log.info("worker %s started (%d connections)", self.worker_id, self.pool.connections)
        try:
            self._replay_journals()
            while not self.stop.is_set():
                if not self.pool.alive():
                    raise WorkerSetupError("no sender thread is running (see the errors above); claimed rows released")
                try:
                    if self._step(once):
                        break
                except SQLAlchemyError as error:
                    self._wait_for_database(error)
        finally:
            self._shut_down()
        result = self._progress()
        log.info(
            "worker %s stopped: %d sent, %d failed, %d deferred",
            self.worker_id,
            result.sent,
            result.failed,
            result.retried,
        )
        return result

    def _step(self, once: bool) -> bool:
        """One turn of the loop; True when `once` finds nothing left to settle."""
        self._maintain()
        if self.pool.backlog() >= self.batch:
            self.pool.wait_for_room(self.batch, timeout=MAINTENANCE_SECONDS)
        elif self._claim_batch():
            pass
        elif self.pool.backlog():
            self.pool.wait_for_room(1, timeout=MAINTENANCE_SECONDS)
        else:
            return self._idle(once)
        if self._outage.ongoing:
            self._confirm_recovery()
        return False

    def _confirm_recovery(self) -> None:
        """Say the database is back only once a round trip to it succeeded (a turn of the loop may not touch it
        at all); until then a failure here goes on with the growing back-off, not from its start."""
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        log.info(
            "database reachable again after %.1fs (%d tries); delivering",
            self._outage.seconds_so_far(),
            self._outage.failures,
        )
        self._outage.reset()
        self._requeue_not_before = time.monotonic() + REQUEUE_GRACE_SECONDS

    def _rows_in_hand(self, unsent_only: bool = False) -> set[int]:
        """The claimed rows this worker still knows about: not yet loaded, with a sender, or (unless
        `unsent_only`) with an outcome waiting to be stored. Only their leases are renewed; any other row
        claimed under this worker's name (a claim whose commit reply was lost, an outcome dropped) expires
        and returns to the queue."""
        unsent = set(self._unloaded) | self.pool.in_hand()
        return unsent if unsent_only else unsent | self.pool.recorder.pending_ids()

    def _wait_for_database(self, error: SQLAlchemyError) -> None:
        """Never exit on a database outage: drop the broken connection, say so (not on every try), back off."""
        discard_session()
        delay = self._outage.next_delay()
        detail = (str(getattr(error, "orig", error)).strip().splitlines() or [""])[0][:200]
        if is_conflict(error):
            log.warning("database conflict (%s); trying again", detail)
        elif self._outage.should_log():
            log.error(
                "database unreachable (%s: %s); waiting for it, accepted mail is kept until recorded",
                error.__class__.__name__,
                detail,
            )
        self.stop.wait(delay)

    def _replay_journals(self) -> None:
        """Before the first claim: store what processes gone from this host journaled as accepted (`journal.py`)."""
        while not self.stop.is_set():
            try:
                journal.replay(self.journal_dir, db.engine, self.worker_id, self.journal_scope)
                return
            except SQLAlchemyError as error:
                self._wait_for_database(error)

    def _shut_down(self) -> None:
        """Stop the senders, store their outcomes, release what was claimed but not sent."""
        unstored = self.pool.close(record_timeout=max(self.lease - 1, 1))
        self.journal.close(keep=bool(unstored))
        try:
            claims.release(self.worker_id, except_ids=unstored)
            claims.settle_editions()
        except SQLAlchemyError as error:
            discard_session()
            log.error(
                "could not release this worker's claimed rows (%s); they return to the queue when their lease expires",
                error.__class__.__name__,
            )

    def _claim_batch(self) -> bool:
        """Claim due rows and hand them to the pool. Rows claimed just before the database went away are kept
        (`_unloaded`) and loaded on the next turn, so none stays leased to this worker without being sent."""
        if self._unloaded and not self.fence.holds(self._unloaded[0]):
            self._unloaded = []  # claimed too long ago to be sure they are still ours: left to their lease
        if not self._unloaded:
            self._claims += 1
            self._unloaded = fenced_claim(self.fence, self.worker_id, self.batch, self.lease, self._claims)
        ids = self._unloaded
        if not ids:
            return False
        jobs, refused = claims.load_jobs(ids, self.worker_id)
        self.pool.count("cancelled", claims.refuse(refused))
        for edition_id in {job.edition_id for job in jobs if job.edition_id is not None}:
            if edition_id not in self.pool.messages.templates:
                self.pool.messages.templates[edition_id] = DigestTemplate(
                    db.session.get_one(Edition, edition_id), self.pool.messages.settings, dkim=self.pool.messages.signer
                )
        db.session.commit()
        self._unloaded = []
        self.pool.submit(jobs)
        return True

    def _maintain(self, force: bool = False) -> None:
        """Housekeeping between claims, at most every `MAINTENANCE_SECONDS` (`force`: now, and all of it)."""
        now = time.monotonic()
        if not force and now - self._last_maintenance < MAINTENANCE_SECONDS:
            return
        self._last_maintenance = now
        self.heartbeat(self.pool.stats)
        if force or now - self._last_lease_check >= self._lease_check_seconds:
            self._keep_leases(now)
            self._last_lease_check = now
        self._pause_for_the_breaker()
        self._follow_held_editions()
        self._settle_editions()
        if self.report and (force or now - self._last_report >= REPORT_SECONDS):
            self._last_report = now
            self.report(self._progress())

    def _keep_leases(self, now: float) -> None:
        """Renew the leases of the rows in hand; requeue rows whose worker stopped renewing theirs, but not
        within `REQUEUE_GRACE_SECONDS` after an outage, while the others may still be storing what they kept."""
        requeue = now >= self._requeue_not_before
        keep_leases(self.worker_id, self.lease, self.fence, self._rows_in_hand, self._blocked, requeue=requeue)

    def _follow_held_editions(self) -> None:
        """Tell the senders which editions are paused or cancelled now, so they give those rows back instead of
        sending them; once nothing waits to be sent, the templates of cancelled editions can go."""
        self.pool.held = {edition_id: status for edition_id, status in held_statuses()}
        if not self.pool.backlog():
            for edition_id, status in self.pool.held.items():
                if status == EditionStatus.CANCELLED:
                    self.pool.messages.templates.pop(edition_id, None)

    def _settle_editions(self) -> None:
        """Mark editions with nothing left to send as sent; their templates are no longer needed."""
        for edition_id in claims.settle_editions():
            self.pool.messages.templates.pop(edition_id, None)
            settled.log_settled(edition_id)

    def _pause_for_the_breaker(self) -> None:
        for edition_id, reason in self.pool.breaker.opened().items():
            try:
                gate.pause(edition_id, reason=reason)
                log.error("edition %s paused: %s", edition_id, reason)
            except EditionConflict as error:
                log.warning("circuit breaker for edition %s: %s", edition_id, error)
            self.pool.breaker.paused(edition_id)

    def _idle(self, once: bool) -> bool:
        """Nothing claimable now: in `once` mode stop if nothing is left, else wait for the next due row."""
        remaining, next_due = claims.outstanding()
        if once and remaining == 0:
            self._maintain(force=True)
            return True
        wait = self.poll_seconds
        if next_due is not None:
            until = next_due.timestamp() - time.time()
            wait = min(wait, until if until > 0 else IDLE_POLL_SECONDS)
        if self.throttle.paused_until() > time.time():
            wait = min(wait, max(self.throttle.paused_until() - time.time(), 0.02))
        self.stop.wait(max(wait, 0.02))
        return False

    def _progress(self) -> Progress:
        stats = self.pool.stats
        remaining = claims.outstanding()[0] if self.report else 0
        return Progress(stats["sent"], stats["failed"], stats["retried"], stats["cancelled"], remaining, self.started)


def _open_pool(
    app: Flask,
    worker_id: str,
    throttle: Throttle,
    stop: threading.Event,
    signer: DkimSigner | None,
    fence: Fence,
    journal_: journal.Journal,
) -> SenderPool:
    return SenderPool(
        app,
        worker_id=worker_id,
        connections=int(app.config["SMTP_CONNECTIONS"]),
        throttle=throttle,
        stop=stop,
        signer=signer,
        fence=fence,
        journal=journal_,
    )
