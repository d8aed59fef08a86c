"""`newsletter worker --processes N` supervises its children: one that dies is started again.

A child that exits while the command is not stopping (killed by a signal, or ended with an error; with
`--once`, only one killed by a signal: an error there is a result) is logged with its exit status and started
again after a back-off: 1 s, doubled for a child that dies within `STABLE_SECONDS` of its start, up to
`MAX_BACKOFF_SECONDS`. The replacement replays the dead child's journal before it claims (`journal.py`).

The parent writes a heartbeat of its own with the configured and the live count, at every change and every
heartbeat interval: `/readyz` reports a group with fewer live processes than configured (between a death and
its replacement, or while one keeps dying).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TypeAlias

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from newsletter.core.extensions import db
from newsletter.operations import heartbeats

log = logging.getLogger("newsletter.worker")
POLL_SECONDS = 0.1
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 30.0
Process: TypeAlias = subprocess.Popen[bytes]
Report: TypeAlias = Callable[[int, int], object]  # report(configured, alive)


def describe(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name} (exit status {128 - code})"
    return f"exit status {code}"


@dataclass
class Slot:
    index: int
    start: Callable[[], Process]
    process: Process | None = None
    started_at: float = 0.0
    backoff: float = 0.0
    restart_at: float | None = None
    final: int | None = None

    def launch(self) -> Process:
        self.process, self.started_at, self.restart_at = self.start(), time.monotonic(), None
        return self.process


class Supervisor:
    """Runs the children to the end (with `once`) or until SIGTERM/SIGINT; returns the worst final status."""

    def __init__(self, starters: list[Callable[[], Process]], once: bool, report: Report | None = None):
        self.slots = [Slot(index + 1, start) for index, start in enumerate(starters)]
        self.once = once
        self.report: Report = report or (lambda configured, alive: None)
        self.stopping = threading.Event()

    def alive(self) -> int:
        return sum(slot.process is not None and slot.process.poll() is None for slot in self.slots)

    def run(self) -> int:
        previous = {name: signal.signal(getattr(signal, name), self._pass_on) for name in ("SIGTERM", "SIGINT")}
        try:
            for slot in self.slots:
                slot.launch()
            self.report(len(self.slots), self.alive())
            while any(slot.final is None for slot in self.slots):
                changed = False
                for slot in self.slots:
                    changed |= self._watch(slot)
                if changed:
                    self.report(len(self.slots), self.alive())
                time.sleep(POLL_SECONDS)
        finally:
            for name, handler in previous.items():
                signal.signal(getattr(signal, name), handler)
        finals = [slot.final for slot in self.slots if slot.final is not None]  # all of them, once the loop ends
        return max((final if final >= 0 else 128 - final) for final in finals)

    def _watch(self, slot: Slot) -> bool:
        """Look after one child; True when the live count changed."""
        if slot.final is not None:
            return False
        if slot.restart_at is not None:
            if self.stopping.is_set():
                slot.final = 0
            elif time.monotonic() >= slot.restart_at:
                started = slot.launch()
                log.info("worker process %d started again (pid %d)", slot.index, started.pid)
                return True
            return False
        process = slot.process
        assert process is not None, "launched in `run` before any watch"
        code = process.poll()
        if code is None:
            return False
        if self.stopping.is_set() or code == 0 or (self.once and code > 0):
            slot.final = code
            return True
        lived = time.monotonic() - slot.started_at
        slot.backoff = FIRST_BACKOFF_SECONDS if lived >= STABLE_SECONDS or not slot.backoff else slot.backoff * 2
        slot.backoff = min(slot.backoff, MAX_BACKOFF_SECONDS)
        slot.restart_at = time.monotonic() + slot.backoff
        log.error(
            "worker process %d (pid %d) died after %.1fs: %s; starting it again in %.0fs",
            slot.index,
            process.pid,
            lived,
            describe(code),
            slot.backoff,
        )
        return True

    def _pass_on(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.send_signal(signum)


class GroupBeat:
    """The parent's heartbeat (`heartbeats.WORKER_GROUP`), written by a thread of its own so that a slow or
    unreachable database never delays a restart."""

    def __init__(self, app: Flask, interval_seconds: int):
        self.app = app
        self.interval = interval_seconds
        self.process = heartbeats.process_name(heartbeats.WORKER_GROUP)
        self._state = (0, 0)
        self._changed = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="group-heartbeat", daemon=True)
        self._thread.start()

    def __call__(self, configured: int, alive: int) -> None:
        self._state = (configured, alive)
        self._changed.set()

    def close(self) -> None:
        self._done.set()
        self._changed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with self.app.app_context():
            while not self._done.is_set():
                self._changed.wait(self.interval)
                self._changed.clear()
                self._write(lambda: heartbeats.beat_group(self.process, self.interval, *self._state))
            self._write(lambda: heartbeats.forget(self.process))

    def _write(self, action: Callable[[], object]) -> None:
        try:
            action()
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("worker group heartbeat not written (%s)", error.__class__.__name__)
