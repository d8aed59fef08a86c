"""The SMTP pool: N threads, each with one persistent connection, sending claimed deliveries."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from enum import Enum
from typing import Final, Literal

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from newsletter.core.extensions import db
from newsletter.core.settings import settings_of
from newsletter.delivery import outcomes, recorder
from newsletter.delivery.breaker import CircuitBreaker
from newsletter.delivery.claims import Job
from newsletter.delivery.fencing import Fence
from newsletter.delivery.gate import UNKNOWN, SendGate
from newsletter.delivery.journal import Journal
from newsletter.delivery.ledger import NothingToRender
from newsletter.delivery.messages import MessageBuilder
from newsletter.delivery.pipelining import Envelope
from newsletter.delivery.replies import CONNECT, SmtpReply
from newsletter.delivery.signing import DkimSigner
from newsletter.delivery.throttle import Throttle
from newsletter.delivery.transport import DeliveryError, Transport, open_transport
from newsletter.delivery.verp import envelope_sender
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import HELD

log = logging.getLogger(__name__)


class _Stop(Enum):
    STOP = "stop"


_STOP: Final = _Stop.STOP  # the stop sentinel, taken from the queue as the following job


class SenderPool:
    def __init__(
        self,
        app: Flask,
        *,
        worker_id: str,
        connections: int,
        throttle: Throttle,
        stop: threading.Event,
        signer: DkimSigner | None = None,
        fence: Fence | None = None,
        journal: Journal | None = None,
    ):
        self.app = app
        self.fence = fence or Fence(float(app.config["LEASE_SECONDS"]))
        self.journal = journal
        self.worker_id = worker_id
        self.throttle = throttle
        self.stop = stop
        self.held: dict[int, str] = {}
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._busy = 0
        self._in_hand: set[int] = set()
        self._idle = threading.Condition()
        self._room_wanted = 0  # while the worker waits: the backlog it waits to fall below (see `_done_with`)
        config = app.config
        self._secret = str(config["SECRET_KEY"])
        self._retry_base = float(config["RETRY_BASE_SECONDS"])
        self._max_age = float(config["RETRY_MAX_AGE_SECONDS"])
        self.breaker = CircuitBreaker(int(config["CIRCUIT_BREAKER_FAILURES"]))
        with app.app_context():
            self.recorder = recorder.OutcomeRecorder(
                db.engine,
                worker_id=worker_id,
                durable=bool(config.get("DELIVERY_DURABLE_COMMIT")),
                on_recorded=self._recorded,
            )
            settings = settings_of(app)
            self.messages = MessageBuilder(signer, settings)
            self._bounce_domain = settings.mail.envelope_domain
        self._threads = [
            threading.Thread(target=self._serve, name=f"smtp-{index}", daemon=True)
            for index in range(max(1, connections))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, jobs: list[Job]) -> None:
        with self._idle:
            self._busy += len(jobs)
            self._in_hand.update(job.delivery_id for job in jobs)
        for job in jobs:
            self._jobs.put(job)

    def in_hand(self) -> set[int]:
        """Ids submitted and not yet decided (queued for a sender, or being sent)."""
        with self._idle:
            return set(self._in_hand)

    def backlog(self) -> int:
        return self._busy

    def wait_for_room(self, below: int, timeout: float) -> None:
        with self._idle:
            self._room_wanted = below
            try:
                self._idle.wait_for(lambda: self._busy < below, timeout=timeout)
            finally:
                self._room_wanted = 0

    @property
    def connections(self) -> int:
        return len(self._threads)

    def alive(self) -> bool:
        return self.recorder.alive() and any(thread.is_alive() for thread in self._threads)

    def close(self, record_timeout: float) -> frozenset[int]:
        """Stop the threads, then store their outcomes (waiting up to `record_timeout` for the database).

        Jobs still queued are dropped: their rows, still `sending`, are released by the worker. Returns the ids
        whose outcome could not be stored: the worker leaves them to their lease.
        """
        self._drop_queued()
        for _thread in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=60)
        return self.recorder.close(record_timeout)

    def _drop_queued(self) -> None:
        dropped = 0
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                dropped += 1
                with self._idle:
                    self._in_hand.discard(job.delivery_id)
        with self._idle:
            self._busy -= dropped
            self._idle.notify_all()

    def count(self, outcome: str, number: int = 1) -> None:
        with self._stats_lock:
            self.stats[outcome] += number

    def _serve(self) -> None:
        with self.app.app_context():
            transport = open_transport(self.messages.settings.mail)
            gate = SendGate(db.engine)
            try:
                job, envelope = self._next_job(gate), None
                while job is not None:
                    following = self._following_job()
                    going_next = self._going_out_next(following)
                    announce = self._envelope_of(going_next)
                    self._serve_one(job, transport, gate, envelope, announce, going_next)
                    if following is _STOP:
                        return
                    job, envelope = (following, announce) if following is not None else (self._next_job(gate), None)
            finally:
                transport.close()
                gate.close()

    def _serve_one(
        self,
        job: Job,
        transport: Transport,
        gate: SendGate,
        envelope: Envelope | None,
        announce: Envelope | None,
        going_next: Job | None,
    ) -> None:
        """Deliver `job` (whose `envelope` is known when it was announced), announce the next one's and build
        the next message (`going_next`) while the relay reads this one."""
        try:
            self._deliver(job, transport, gate, envelope or self._envelope(job), announce, going_next)
            transport.keep_only(announce)
        except Exception as error:
            log.exception("delivery %s: unexpected error; queued again", job.delivery_id)
            self._record(
                outcomes.deferred(
                    job, f"worker error: {error.__class__.__name__}", retry_base=self._retry_base, max_age=self._max_age
                )
            )
        finally:
            self._done_with(job)

    def _done_with(self, job: Job) -> None:
        """Forget the job; wake the worker only once there is the room it waits for. Woken after every
        message, it took the interpreter lock from the senders some 2,000 times a second for nothing."""
        with self._idle:
            self._busy -= 1
            self._in_hand.discard(job.delivery_id)
            self.fence.forget(job.delivery_id)
            if self._busy < self._room_wanted:
                self._idle.notify_all()

    def _following_job(self) -> Job | Literal[_Stop.STOP] | None:
        """The job after the current one if one is waiting (None if not, `_STOP` for the stop sentinel), taken
        now so that its envelope can travel with the current message's content."""
        try:
            following = self._jobs.get_nowait()
        except queue.Empty:
            return None
        return _STOP if following is None else following

    def _going_out_next(self, following: Job | Literal[_Stop.STOP] | None) -> Job | None:
        """The following job if it will most likely be sent next: a job (not the stop sentinel) with an
        address, of no edition held back. Its envelope is announced and its message built ahead."""
        if isinstance(following, Job) and following.email and following.edition_id not in self.held:
            return following
        return None

    def _envelope_of(self, job: Job | None) -> Envelope | None:
        """The envelope to announce for `job`, not with a rate limit (the relay would wait on it)."""
        return None if job is None or self.throttle.limited else self._envelope(job)

    def _envelope(self, job: Job) -> Envelope:
        assert job.email is not None, "a row without an address is refused when claimed (claims._refusal)"
        return Envelope(envelope_sender(job.delivery_id, secret=self._secret, domain=self._bounce_domain), job.email)

    def _next_job(self, gate: SendGate) -> Job | None:
        """The next job; the gate is let go first if there is none yet, so a pause never waits for an idle
        sender."""
        try:
            return self._jobs.get_nowait()
        except queue.Empty:
            gate.release()
            return self._jobs.get()

    def _record(self, outcome: outcomes.Outcome) -> None:
        """Hand the outcome to the recorder (an accepted one is journaled first); only an accepted message is
        counted when it is stored."""
        if outcome.accepted and self.journal is not None:
            self.journal.accepted(outcome.job.delivery_id, outcome.values)
        self.recorder.put(outcome)
        if not outcome.accepted:
            self.count(outcome.label)

    def _recorded(self, outcome: outcomes.Outcome) -> None:
        if outcome.accepted:
            self.count("sent")
            if self.journal is not None:
                self.journal.settled(outcome.job.delivery_id)

    def _held_back(self, job: Job) -> bool:
        """Give the job back if its edition is paused or cancelled, or the worker is stopping."""
        held = self.held.get(job.edition_id) if job.edition_id else None
        if not held and not self.stop.is_set():
            return False
        reason = f"not sent: edition {held}" if held else "worker stopped"
        self._record(outcomes.given_back(job, reason, cancelled=held == EditionStatus.CANCELLED))
        return True

    def _deliver(
        self,
        job: Job,
        transport: Transport,
        gate: SendGate,
        envelope: Envelope,
        announce: Envelope | None,
        following: Job | None = None,
    ) -> None:
        if not self.recorder.healthy.is_set():
            gate.release()
            transport.keep_only(None)  # an envelope sent ahead would time out at the relay meanwhile
            self.recorder.wait_until_healthy(self.stop)
        if self._held_back(job):
            return
        try:
            message = self.messages.message(job)
        except NothingToRender as error:
            log.warning("delivery %s cancelled: %s", job.delivery_id, error)
            return self._record(outcomes.given_back(job, f"cancelled: {error}", cancelled=True))
        except SQLAlchemyError as error:
            return self._record(
                outcomes.given_back(job, f"not sent: database error ({error.__class__.__name__})", cancelled=False)
            )
        if self.throttle.limited or self.throttle.paused_until() > time.time():
            gate.release()  # the wait for a slot can be long
            transport.keep_only(None)
        if not self.throttle.acquire(self.stop):
            return self._record(outcomes.given_back(job, "worker stopped", cancelled=False))
        with gate.passage(job.edition_id) as status:
            if status == UNKNOWN:
                return self._record(
                    outcomes.given_back(
                        job, "not sent: the database could not confirm the edition's state", cancelled=False
                    )
                )
            if status in HELD and job.edition_id is not None:
                self.held[job.edition_id] = status
            if self._held_back(job) or not self.fence.admits(job.delivery_id):
                return
            try:
                reply = transport.send(
                    envelope.sender,
                    envelope.recipient,
                    message,
                    announce,
                    while_waiting=lambda: self.messages.build_ahead(following),
                )
            except DeliveryError as error:
                return self._refused(job, error, transport)
        self._record(outcomes.sent(job, str(reply)))
        self.throttle.succeeded()
        self.breaker.succeeded(job.edition_id)

    def _deferred(
        self, job: Job, reply: SmtpReply, *, throttled_until: float | None = None, count: bool = True
    ) -> outcomes.Outcome:
        return outcomes.deferred(
            job,
            str(reply),
            retry_base=self._retry_base,
            max_age=self._max_age,
            throttled_until=throttled_until,
            count=count,
        )

    def _refused(self, job: Job, error: DeliveryError, transport: Transport) -> None:
        reply = error.reply
        where = f"at {reply.stage}, attempt {job.attempts + 1}, relay {transport.describe()}"
        if not error.temporary:
            return self._refused_for_good(job, reply, where)
        if job.edition_id is not None and self.held.get(job.edition_id) == EditionStatus.CANCELLED:
            return self._record(outcomes.given_back(job, f"not sent: edition cancelled ({reply})", cancelled=True))
        if self.breaker.relay_refused(job.edition_id, reply):  # a wrong password: pause, do not retry for days
            self.count("relay_refused")
            if job.edition_id is not None:
                self.held[job.edition_id] = EditionStatus.PAUSED
                return self._record(
                    outcomes.given_back(
                        job, f"not sent: relay refused authentication ({reply})"[:1000], cancelled=False
                    )
                )
        if reply.stage == CONNECT:
            delay = self.throttle.back_off()
            self._record(self._deferred(job, reply, throttled_until=self.throttle.paused_until(), count=bool(delay)))
            if delay:
                log.error(
                    "cannot open an SMTP session (%s; %s); pausing %.1fs before trying again",
                    reply.for_log(),
                    where,
                    delay,
                )
        elif reply.throttled:
            delay = self.throttle.back_off()
            self._record(self._deferred(job, reply, throttled_until=self.throttle.paused_until(), count=False))
            if delay:
                log.warning(
                    "delivery %s: relay throttling (%s; %s); pausing %.1fs",
                    job.delivery_id,
                    reply.for_log(),
                    where,
                    delay,
                )
        else:
            self._record(self._deferred(job, reply))
            log.info("delivery %s deferred (%s; %s)", job.delivery_id, reply.for_log(), where)

    def _refused_for_good(self, job: Job, reply: SmtpReply, where: str) -> None:
        """Fail the row, unless the refusal is the sending side's and the circuit breaker holds the edition."""
        if job.edition_id is not None and self.breaker.refused(job.edition_id, reply):
            self.held[job.edition_id] = EditionStatus.PAUSED
            return self._record(
                outcomes.given_back(job, f"not sent: circuit breaker open ({reply})"[:1000], cancelled=False)
            )
        self._record(outcomes.failed(job, str(reply), suppress=reply.unknown_recipient))
        log.warning("delivery %s failed permanently (%s; %s)", job.delivery_id, reply.for_log(), where)
