"""Heartbeats of the worker and scheduler processes, written to the database so every web process reads them.

A worker's beat also carries the state of its SMTP relay as the worker saw it since its previous beat:
`ok` (messages accepted), `failing` (only deferrals or failures), `idle` (nothing to send), or `files`
(no relay configured; messages are written to the outbox); and, until a message goes through, what the
start-up probe found (`unreachable`, `tls-refused`, `auth-refused`, `refused`), or `auth-refused` when the
relay refused the password while sending (its editions are paused by the circuit breaker).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select

from newsletter.core.database import dialect_insert
from newsletter.core.extensions import db
from newsletter.models import Heartbeat, utcnow

WORKER = "worker"
SCHEDULER = "scheduler"
ROLES = (WORKER, SCHEDULER)
WORKER_GROUP = "worker-group"  # the parent of `worker --processes N`: configured and live children
SCHEDULER_SECONDS = 60
STALE_AFTER_INTERVALS = 2
FORGET_AFTER = timedelta(days=7)
RELAY_PROBLEMS = ("unreachable", "tls-refused", "auth-refused", "refused")
FAILING = dict.fromkeys(RELAY_PROBLEMS, "failing")


class RelayState(Protocol):
    """What a worker's beat asks of its relay watch (`delivery.probe.RelayWatch`): the problem, if any."""

    def problem(self) -> str | None: ...


def process_name(role: str) -> str:
    return f"{role}:{socket.gethostname()[:100]}:{os.getpid()}"


def beat(role: str, process: str, interval_seconds: int, detail: dict[str, Any] | None = None) -> None:
    """Record that `process` is alive now (one row per process, overwritten); commits.

    Rows of processes silent for a week (restarted workers have new ids) are forgotten on the way."""
    beat_at = utcnow()
    values = {
        "role": role,
        "beat_at": beat_at,
        "interval_seconds": int(interval_seconds),
        "detail": json.dumps(detail or {}, sort_keys=True),
    }
    statement = dialect_insert(Heartbeat).values(process=process, **values)
    db.session.execute(statement.on_conflict_do_update(index_elements=["process"], set_=values))
    db.session.execute(delete(Heartbeat).where(Heartbeat.beat_at < beat_at - FORGET_AFTER))
    db.session.commit()


def beat_group(process: str, interval_seconds: int, configured: int, alive: int) -> None:
    beat(WORKER_GROUP, process, interval_seconds, {"configured": configured, "alive": alive})


def forget(process: str) -> None:
    """A process that ends cleanly takes its row with it."""
    db.session.execute(delete(Heartbeat).where(Heartbeat.process == process))
    db.session.commit()


def _groups(rows: list[Heartbeat], now: datetime) -> dict[str, Any] | None:
    """Worker groups (`worker --processes N`) beating now: configured and live processes, summed."""
    fresh = [
        json.loads(row.detail or "{}")
        for row in rows
        if row.role == WORKER_GROUP
        and now - row.beat_at <= timedelta(seconds=row.interval_seconds * STALE_AFTER_INTERVALS)
    ]
    if not fresh:
        return None
    configured = sum(int(detail.get("configured", 0)) for detail in fresh)
    alive = sum(int(detail.get("alive", 0)) for detail in fresh)
    return {
        "status": "ok" if alive >= configured else "degraded",
        "configured": configured,
        "alive": alive,
        "groups": len(fresh),
    }


def beat_scheduler() -> None:
    """The scheduler's beat, an APScheduler job of its own so a failing weekly run does not silence it."""
    beat(SCHEDULER, process_name(SCHEDULER), SCHEDULER_SECONDS)


class WorkerBeat:
    """The worker's beat, at most once per NEWSLETTER_HEARTBEAT_SECONDS, with its relay's state."""

    def __init__(self, worker_id: str, config: Mapping[str, Any], relay: RelayState | None = None) -> None:
        self.worker_id = worker_id
        self.relay = relay  # the start-up probe's RelayWatch, or None
        self.interval = max(1, int(config["HEARTBEAT_SECONDS"]))
        self.smtp = "idle" if config.get("SMTP_URL") else "files"
        self._last = 0.0
        self._seen: Counter[str] = Counter()
        self._refused = False

    def __call__(self, stats: Counter[str]) -> None:
        now = time.monotonic()
        if self._last and now - self._last < self.interval:
            return
        self._last = now
        delta = {key: stats[key] - self._seen[key] for key in ("sent", "retried", "failed", "relay_refused")}
        self._seen = Counter(stats)
        if self.smtp != "files":
            self.smtp = self._state(delta)
        beat(WORKER, f"worker:{self.worker_id}", self.interval, {"smtp": self.smtp, **dict(stats)})

    def _state(self, delta: dict[str, int]) -> str:
        """A refused password while sending holds until a message goes through; a failed probe until it answers."""
        if delta["relay_refused"] > 0:
            self._refused = True
        if delta["sent"] > 0:
            self._refused = False
            return "ok"
        problem = self.relay.problem() if self.relay is not None else None
        if self._refused:
            return "auth-refused"
        if problem:
            return problem
        if delta["retried"] or delta["failed"]:
            return "failing"
        return "idle" if self.smtp in RELAY_PROBLEMS else self.smtp


def _part(rows: list[Heartbeat], now: datetime) -> dict[str, Any]:
    if not rows:
        return {"status": "missing", "processes": 0}
    latest = max(rows, key=lambda row: row.beat_at)
    fresh = [
        row for row in rows if now - row.beat_at <= timedelta(seconds=row.interval_seconds * STALE_AFTER_INTERVALS)
    ]
    return {
        "status": "ok" if fresh else "stale",
        "processes": len(fresh),
        "last_beat": latest.beat_at.isoformat(),
        "age_seconds": round((now - latest.beat_at).total_seconds(), 1),
    }


def readiness(now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per role: ok / stale / missing with the last beat; and the SMTP state from the freshest worker."""
    now = now or utcnow()
    rows = list(db.session.scalars(select(Heartbeat)))
    parts = {role: _part([row for row in rows if row.role == role], now) for role in ROLES}
    workers = sorted((row for row in rows if row.role == WORKER), key=lambda row: row.beat_at)
    smtp = json.loads(workers[-1].detail or "{}").get("smtp", "unknown") if workers else "unknown"
    if parts[WORKER]["status"] != "ok":
        smtp = "unknown"
    parts["smtp"] = {
        "status": {"ok": "ok", "idle": "ok", "files": "ok", "failing": "failing", **FAILING}.get(smtp, "unknown"),
        "state": smtp,
    }
    groups = _groups(rows, now)
    if groups is not None:
        parts["worker_processes"] = groups
    return parts


def worker_beats() -> list[Heartbeat]:
    return list(db.session.scalars(select(Heartbeat).order_by(Heartbeat.process)))
