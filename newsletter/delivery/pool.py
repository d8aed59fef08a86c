"""The SMTP pool: N threads, each with one persistent connection, sending claimed deliveries."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter

from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models.content import EditionStatus
from ..models.delivery import DeliveryKind
from .claims import Job, Recorder
from ..tokens import LinkSigner
from .digest import DigestTemplate, build_digest_message
from .ledger import NothingToRender, render_transactional
from .transport import CONNECT, DeliveryError, open_transport
from .verp import bounce_domain, envelope_sender

log = logging.getLogger(__name__)
RECORD_RETRY_SECONDS = (0.1, 0.5, 2.0)
SETUP_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0)


class SenderPool:
    def __init__(self, app, *, worker_id: str, connections: int, throttle, stop: threading.Event, signer=None):
        self.app = app
        self.worker_id = worker_id
        self.throttle = throttle
        self.stop = stop
        self.signer = signer
        self.templates: dict[int, DigestTemplate] = {}
        self.held: dict[int, str] = {}
        self.stats: Counter = Counter()
        self.unrecorded: set[int] = set()
        self._stats_lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._busy = 0
        self._idle = threading.Condition()
        config = app.config
        self._secret = str(config["SECRET_KEY"])
        self._retry_base = float(config["RETRY_BASE_SECONDS"])
        self._max_age = float(config["RETRY_MAX_AGE_SECONDS"])
        self._durable = bool(config.get("DELIVERY_DURABLE_COMMIT"))
        with app.app_context():
            self._links = LinkSigner()
            self._bounce_domain = bounce_domain()
        self._threads = [
            threading.Thread(target=self._serve, name=f"smtp-{index}", daemon=True)
            for index in range(max(1, connections))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, jobs: list[Job]) -> None:
        with self._idle:
            self._busy += len(jobs)
        for job in jobs:
            self._jobs.put(job)

    def backlog(self) -> int:
        return self._busy

    def wait_for_room(self, below: int, timeout: float) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._busy < below, timeout=timeout)

    @property
    def connections(self) -> int:
        return len(self._threads)

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def close(self) -> None:
        """Stop the threads; jobs still queued are dropped, their rows (still `sending`) released by the worker."""
        self._drop_queued()
        for _thread in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=60)

    def _drop_queued(self) -> None:
        dropped = 0
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            dropped += job is not None
        with self._idle:
            self._busy -= dropped
            self._idle.notify_all()

    def count(self, outcome: str, number: int = 1) -> None:
        with self._stats_lock:
            self.stats[outcome] += number

    def _setup(self) -> Recorder | None:
        """This thread's database connection, retried a few times; None if the database stays unreachable."""
        for delay in (*SETUP_RETRY_SECONDS, None):
            try:
                connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                return Recorder(connection, worker_id=self.worker_id, retry_base=self._retry_base,
                                max_age=self._max_age, durable=self._durable)
            except SQLAlchemyError as error:
                if delay is None or self.stop.wait(delay):
                    log.error("sender thread could not connect to the database (%s); it stops",
                              error.__class__.__name__)
                    return None
        return None

    def _serve(self) -> None:
        with self.app.app_context():
            recorder = self._setup()
            if recorder is None:
                return
            connection = recorder.connection
            transport = open_transport(self.app.config)
            try:
                while True:
                    job = self._jobs.get()
                    if job is None:
                        return
                    try:
                        self._deliver(job, transport, recorder)
                    except Exception as error:
                        log.exception("delivery %s: unexpected error; queued again", job.delivery_id)
                        self._recover(job, recorder, error)
                    finally:
                        with self._idle:
                            self._busy -= 1
                            self._idle.notify_all()
            finally:
                transport.close()
                connection.close()

    def _recover(self, job: Job, recorder: Recorder, error: Exception) -> None:
        try:
            _rollback(recorder)
            recorder.retry(job, f"worker error: {error.__class__.__name__}")
        except Exception:
            log.exception("delivery %s: could not record the error; its lease will expire", job.delivery_id)

    def _message(self, job: Job) -> bytes:
        if job.kind == DeliveryKind.DIGEST:
            message = build_digest_message(self.templates[job.edition_id], job.subscriber_id, job.email, self._links)
        else:
            message = self._render_transactional(job)
        return self.signer.sign(message) if self.signer else message

    def _render_transactional(self, job: Job) -> bytes:
        """Render in this thread's own session, closed at once so no transaction stays open."""
        try:
            return render_transactional(job)
        except (NothingToRender, SQLAlchemyError):
            raise
        except Exception as error:
            log.exception("delivery %s: the %s message could not be rendered", job.delivery_id, job.kind)
            reason = f"the {job.kind} message could not be rendered ({error.__class__.__name__})"
            raise NothingToRender(reason) from error
        finally:
            db.session.remove()

    def _cancel_unrenderable(self, job: Job, error: NothingToRender, recorder: Recorder) -> None:
        recorder.give_back(job, f"cancelled: {error}"[:1000], cancelled=True)
        log.warning("delivery %s cancelled: %s", job.delivery_id, error)
        self.count("cancelled")

    def _held_back(self, job: Job, recorder: Recorder) -> bool:
        """Give the job back if its edition is paused or cancelled, or the worker is stopping."""
        held = self.held.get(job.edition_id) if job.edition_id else None
        if not held and not self.stop.is_set():
            return False
        recorder.give_back(job, f"not sent: edition {held}" if held else "worker stopped", cancelled=held == EditionStatus.CANCELLED)
        self.count("cancelled" if held == EditionStatus.CANCELLED else "released")
        return True

    def _deliver(self, job: Job, transport, recorder: Recorder) -> None:
        if self._held_back(job, recorder):
            return
        try:
            message = self._message(job)
        except NothingToRender as error:
            return self._cancel_unrenderable(job, error, recorder)
        if not self.throttle.acquire(self.stop):
            recorder.give_back(job, "worker stopped", cancelled=False)
            return self.count("released")
        if self._held_back(job, recorder):
            return
        sender = envelope_sender(job.delivery_id, secret=self._secret, domain=self._bounce_domain)
        try:
            reply = transport.send(sender, job.email, message)
        except DeliveryError as error:
            return self._refused(job, error, recorder)
        self._record_sent(job, str(reply)[:1000], recorder)
        self.throttle.succeeded()
        self.count("sent")

    def _record_sent(self, job: Job, reply: str, recorder: Recorder) -> None:
        """The relay accepted it: never queue it again; if the write keeps failing, let its lease expire."""
        for delay in (*RECORD_RETRY_SECONDS, None):
            try:
                if not recorder.sent(job, reply):
                    log.warning("delivery %s: sent after this worker's lease was lost; outcome not recorded",
                                job.delivery_id)
                return
            except Exception as error:
                failure = error.__class__.__name__
                _rollback(recorder)
            if delay is not None:
                time.sleep(delay)
        self.unrecorded.add(job.delivery_id)
        log.error("delivery %s was accepted by the relay but could not be recorded as sent (%s); "
                  "it stays in sending and is sent again (same Message-ID) only when its lease expires",
                  job.delivery_id, failure)

    def _refused(self, job: Job, error: DeliveryError, recorder: Recorder) -> None:
        reply = error.reply
        summary = f"{reply.code} {reply.enhanced or ''}".strip()
        if error.temporary and self.held.get(job.edition_id) == EditionStatus.CANCELLED:
            recorder.give_back(job, f"not sent: edition cancelled ({reply})"[:1000], cancelled=True)
            return self.count("cancelled")
        if not error.temporary:
            recorder.failed(job, str(reply)[:1000], suppress=reply.unknown_recipient)
            log.warning("delivery %s failed permanently (%s at %s)", job.delivery_id, summary, reply.stage)
            return self.count("failed")
        if reply.stage == CONNECT:
            delay = self.throttle.back_off()
            recorder.retry(job, str(reply)[:1000], throttled_until=self.throttle.paused_until(), count=bool(delay))
            if delay:
                log.error("cannot open an SMTP session (%s); pausing %.1fs before trying again", reply, delay)
        elif reply.throttled:
            delay = self.throttle.back_off()
            recorder.retry(job, str(reply)[:1000], throttled_until=self.throttle.paused_until())
            if delay:
                log.warning("delivery %s: relay throttling (%s); pausing %.1fs", job.delivery_id, summary, delay)
        else:
            recorder.retry(job, str(reply)[:1000])
            log.info("delivery %s deferred (%s at %s)", job.delivery_id, summary, reply.stage)
        self.count("retried")


def _rollback(recorder: Recorder) -> None:
    try:
        recorder.connection.rollback()
    except Exception:
        log.debug("rollback failed", exc_info=True)
