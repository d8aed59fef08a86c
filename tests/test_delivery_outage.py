"""The back-off the worker and the outcome recorder share while the database is away."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy.exc import IntegrityError, OperationalError

from newsletter.delivery import outage
from newsletter.delivery.outage import OutageBackoff, is_conflict, is_outage


def test_delays_grow_to_the_last_one_and_start_again_after_a_reset(monkeypatch):
    monkeypatch.setattr(outage.time, "monotonic", lambda: 1000.0)
    backoff = OutageBackoff((0.1, 0.5, 2.0), log_every=30)
    assert not backoff.ongoing
    assert [backoff.next_delay() for _ in range(5)] == [0.1, 0.5, 2.0, 2.0, 2.0]
    assert backoff.ongoing
    backoff.reset()
    assert not backoff.ongoing and backoff.seconds_so_far() == 0.0
    assert backoff.next_delay() == 0.1


def test_a_log_line_is_due_at_first_then_once_per_interval_and_again_after_a_reset(monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(outage.time, "monotonic", lambda: clock.now)
    backoff = OutageBackoff((0.1,), log_every=30)
    backoff.next_delay()
    assert backoff.should_log()
    clock.now += 29
    assert not backoff.should_log()
    clock.now += 1
    assert backoff.should_log()
    assert backoff.seconds_so_far() == 30
    backoff.reset()
    assert backoff.should_log()


def _error(kind, sqlstate=None):
    return kind("UPDATE deliveries", {}, SimpleNamespace(sqlstate=sqlstate))


def test_a_deadlock_or_serialization_failure_is_a_conflict_and_a_refused_statement_is_not_an_outage():
    assert is_conflict(_error(OperationalError, "40P01")) and is_conflict(_error(OperationalError, "40001"))
    assert not is_conflict(_error(OperationalError, "08006"))
    assert is_outage(_error(OperationalError, "08006"))
    assert not is_outage(_error(IntegrityError, "23505"))
