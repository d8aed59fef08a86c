"""Throttling: a send rate shared by every worker, a sliding-window quota, and backing off when the relay asks."""

from __future__ import annotations

import threading
import time

from fixtures.delivery import add_edition, add_subscribers, assert_each_once, emails_of, statuses

from newsletter.core.extensions import db
from newsletter.delivery import ledger, worker
from newsletter.delivery.throttle import Throttle
from newsletter.models import Delivery


def test_send_rate_spaces_messages_out(fast_smtp_config, app, smtp_server):
    app.config["SEND_RATE"] = 20
    emails = emails_of(add_subscribers(10, "en"))
    ledger.enqueue_edition(add_edition("en"))

    started = time.monotonic()
    worker.run(once=True, poll_seconds=0.05)

    assert time.monotonic() - started >= 0.4
    assert_each_once(smtp_server, emails)


def test_the_rate_is_shared_between_workers(app):
    """Two throttles (as in two worker processes) draw from one clock in the database.

    Slots are handed out 1/rate apart from that clock, so the 20th message cannot go before 19/20 s
    after the start, however the threads are scheduled (a thread running late may use its few reserved
    slots back to back, so the gaps between stamps are not measured).
    """
    first, second = (Throttle(app, rate=20, window_limit=0, window_seconds=60, backoff_seconds=1) for _ in range(2))
    stamps: list[float] = []
    started = time.time()

    def take(throttle):
        for _ in range(10):
            throttle.acquire()
            stamps.append(time.time())

    threads = [threading.Thread(target=take, args=(throttle,)) for throttle in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(stamps) == 20
    assert max(stamps) - started >= 19 / 20 - 1e-6


def test_the_window_quota_holds_the_rest_until_the_window_moves(fast_smtp_config, app, smtp_server):
    app.config.update(SEND_WINDOW_LIMIT=5, SEND_WINDOW_SECONDS=3600)
    add_subscribers(8, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    stop = threading.Event()

    def drain():
        with app.app_context():
            worker.run(stop=stop, poll_seconds=0.05)

    thread = threading.Thread(target=drain)
    thread.start()
    deadline = time.monotonic() + 10
    while len(smtp_server.messages) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    stop.set()
    thread.join(timeout=30)

    assert len(smtp_server.messages) == 5
    assert statuses(edition.id) == {"sent": 5, "queued": 3}


def test_a_throttling_relay_slows_the_pool_without_burning_attempts(fast_smtp_config, app, smtp_server):
    app.config.update(THROTTLE_BACKOFF_SECONDS=0.5, SMTP_CONNECTIONS=1)
    emails = emails_of(add_subscribers(4, "en"))
    ledger.enqueue_edition(add_edition("en"))
    smtp_server.reply_next("MAIL", "454 4.7.0 too many messages, slow down")

    started = time.monotonic()
    worker.run(once=True, poll_seconds=0.05)

    assert time.monotonic() - started >= 0.5
    assert_each_once(smtp_server, emails)
    rows = db.session.scalars(db.select(Delivery)).all()
    assert {row.attempts for row in rows} == {1}


def test_backing_off_keeps_the_slots_already_counted_in_the_window(app):
    throttle = Throttle(app, rate=0, window_limit=3, window_seconds=3600, backoff_seconds=0.05)
    stop = threading.Event()
    timer = threading.Timer(3, stop.set)
    timer.start()
    try:
        assert throttle.acquire(stop)
        throttle.back_off()
        assert throttle.acquire(stop) and throttle.acquire(stop), "the two reserved slots were lost"
    finally:
        timer.cancel()


def test_a_throttled_retry_shows_as_the_next_retry(app):
    add_subscribers(1, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    row = db.session.scalars(db.select(Delivery)).one()
    row.last_reply = "421 4.7.0 slow down"
    db.session.commit()

    assert ledger.edition_counts(edition.id)["next_retry_at"] == row.next_attempt_at.isoformat()
