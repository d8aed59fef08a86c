"""The send gate on PostgreSQL: a sender sends on under the edition's shared lock without asking again, and a
pause or cancel waits for it to let go; once the pause returns, the sender's next check sees it."""

from __future__ import annotations

import threading

import pytest
from fixtures.delivery import add_edition, add_subscribers

from newsletter import editions
from newsletter.core.extensions import db
from newsletter.delivery import ledger
from newsletter.delivery.gate import SendGate

pytestmark = pytest.mark.postgres_only


def _pause_in_thread(app, edition_id: int) -> threading.Thread:
    def pause():
        with app.app_context():
            editions.pause_edition(edition_id)

    pausing = threading.Thread(target=pause)
    pausing.start()
    return pausing


def _sending_edition() -> int:
    add_subscribers(2, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition.id


def test_a_pause_waits_for_the_sender_holding_the_gate_then_the_sender_sees_it(app):
    edition_id = _sending_edition()
    gate = SendGate(db.engine, recheck_seconds=3600)
    with gate.passage(edition_id) as status:
        assert status == "sending"
    pausing = _pause_in_thread(app, edition_id)
    try:
        with gate.passage(edition_id) as status:
            assert status == "sending", "the sender holds the lock: nothing can have changed"
        pausing.join(timeout=0.5)
        assert pausing.is_alive(), "the pause waits while a sender holds the gate"
        gate.release()  # what a sender does before it waits, or when its time under the lock is up
        pausing.join(timeout=10)
        assert not pausing.is_alive()
        with gate.passage(edition_id) as status:
            assert status == "paused"
    finally:
        gate.close()
        pausing.join(timeout=10)


def test_a_sender_asks_again_after_its_time_under_the_lock_so_a_pause_gets_in(app):
    edition_id = _sending_edition()
    gate = SendGate(db.engine, recheck_seconds=0.05)
    pausing = None
    try:
        with gate.passage(edition_id) as status:
            assert status == "sending"
        pausing = _pause_in_thread(app, edition_id)
        seen = []
        for _ in range(400):  # a busy sender: one message after another, never idle
            with gate.passage(edition_id) as status:
                seen.append(status)
            if status == "paused":
                break
            pausing.join(timeout=0.01)
        assert seen[-1] == "paused" and set(seen) <= {"sending", "paused"}
        pausing.join(timeout=10)
        assert not pausing.is_alive()
    finally:
        gate.close()
        if pausing is not None:
            pausing.join(timeout=10)


def test_an_idle_sender_or_mail_of_no_edition_keeps_no_pause_waiting(app):
    edition_id = _sending_edition()
    gate = SendGate(db.engine, recheck_seconds=0.05)
    try:
        with gate.passage(edition_id):
            pass
        pausing = _pause_in_thread(app, edition_id)
        for _ in range(200):  # transactional mail only, for a while
            with gate.passage(None) as status:
                assert status is None
            pausing.join(timeout=0.01)
            if not pausing.is_alive():
                break
        assert not pausing.is_alive(), "a stale hold is let go at the next message of no edition"
    finally:
        gate.close()
