"""PostgreSQL scale-out: workers in separate processes share one queue (SKIP LOCKED); keys and locks decide races."""
from __future__ import annotations

import subprocess
import threading

import pytest
from sqlalchemy import event, select

from newsletter import subscriber_io
from newsletter.delivery import ledger
from newsletter.extensions import db
from newsletter.models import Delivery, Subscriber

from fixtures.delivery import (
    NEWSLETTER, add_edition, add_subscribers, assert_each_once, emails_of, statuses, worker_env,
)

pytestmark = pytest.mark.postgres_only


def test_two_workers_drain_one_edition_without_sending_anything_twice(app, smtp_server, tmp_path):
    emails = emails_of(add_subscribers(300, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    env = worker_env(app, smtp_server, WORKER_BATCH_SIZE=10, SEND_RATE=100)

    workers = [
        subprocess.Popen([NEWSLETTER, "worker", "--once"], env=env, cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], results
    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 300}
    senders = set(db.session.scalars(db.select(Delivery.claimed_by).distinct()))
    assert len(senders) == 2, "both workers should have claimed part of the queue"


def test_concurrent_enqueues_of_one_edition_queue_it_once(app):
    add_subscribers(200, "en")
    edition_id = add_edition("en").id
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def send():
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(ledger.enqueue_edition(edition_id))
            except ledger.SendConflict as error:
                outcomes.append(error)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(map(type, outcomes), key=str) == sorted([int, ledger.SendConflict], key=str)
    assert statuses(edition_id) == {"queued": 200}


def test_an_erasure_waits_for_an_enqueue_in_progress_and_clears_its_rows(app):
    """The ledger has no foreign keys; the audience lock keeps an erasure from missing rows not yet committed."""
    ids = add_subscribers(20, "en")
    edition_id = add_edition("en").id
    inserted, go_on = threading.Event(), threading.Event()
    enqueuer: list[threading.Thread] = []

    def hold_the_commit(_connection):
        if threading.current_thread() in enqueuer:
            inserted.set()
            go_on.wait(timeout=30)

    def enqueue():
        with app.app_context():
            ledger.enqueue_edition(edition_id)

    def erase():
        with app.app_context():
            subscriber_io.erase_subscriber(db.session.get(Subscriber, ids[0]))

    event.listen(db.engine, "commit", hold_the_commit)
    try:
        enqueuer.append(threading.Thread(target=enqueue))
        enqueuer[0].start()
        assert inserted.wait(timeout=30)
        eraser = threading.Thread(target=erase)
        eraser.start()
        eraser.join(timeout=1)
        assert eraser.is_alive(), "the erasure should wait for the enqueue's commit"
        go_on.set()
        enqueuer[0].join(timeout=30)
        eraser.join(timeout=30)
    finally:
        go_on.set()
        event.remove(db.engine, "commit", hold_the_commit)

    db.session.expire_all()
    assert db.session.get(Subscriber, ids[0]) is None
    rows = db.session.execute(select(Delivery.subscriber_id, Delivery.status)).all()
    assert len(rows) == 20
    assert [subscriber for subscriber, _ in rows].count(None) == 1
    assert set(ids[1:]) == {subscriber for subscriber, _ in rows if subscriber is not None}
