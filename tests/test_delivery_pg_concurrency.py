"""PostgreSQL scale-out: workers in separate processes share one queue (SKIP LOCKED); keys and locks decide races."""

from __future__ import annotations

import subprocess
import threading
from contextlib import contextmanager

import pytest
from fixtures.delivery import (
    NEWSLETTER,
    add_edition,
    add_subscribers,
    assert_each_once,
    emails_of,
    statuses,
    wait_for,
    worker_env,
)
from fixtures.settings import current_settings, secret, smtp_utf8
from sqlalchemy import event, func, select

from newsletter import editions
from newsletter.core.extensions import db
from newsletter.delivery import claims, ledger
from newsletter.models import Delivery, Edition, Subscriber
from newsletter.models.lifecycle import EditionConflict
from newsletter.subscribers import import_export as subscriber_io
from newsletter.subscribers import subscriptions
from newsletter.subscribers.consent import API, RequestOrigin

pytestmark = pytest.mark.postgres_only


def test_two_workers_drain_one_edition_without_sending_anything_twice(app, smtp_server, tmp_path):
    emails = emails_of(add_subscribers(300, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    env = worker_env(app, smtp_server, WORKER_BATCH_SIZE=10, SEND_RATE=100)

    workers = [
        subprocess.Popen(
            [NEWSLETTER, "worker", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
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
            except EditionConflict as error:
                outcomes.append(error)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(map(type, outcomes), key=str) == sorted([int, EditionConflict], key=str)
    assert statuses(edition_id) == {"queued": 200}


@contextmanager
def commit_held(app, work):
    """Run `work` in a thread whose commit waits until the block ends; yields once its statements ran."""
    reached_commit, go_on = threading.Event(), threading.Event()
    holder: list[threading.Thread] = []

    def hold(_connection):
        if threading.current_thread() in holder:
            reached_commit.set()
            go_on.wait(timeout=30)

    def run():
        with app.app_context():
            work()

    event.listen(db.engine, "commit", hold)
    holder.append(threading.Thread(target=run))
    try:
        holder[0].start()
        assert reached_commit.wait(timeout=30)
        yield
    finally:
        go_on.set()
        holder[0].join(timeout=30)
        event.remove(db.engine, "commit", hold)


def erase_in_thread(app, subscriber_id: int) -> threading.Thread:
    def erase():
        with app.app_context():
            subscriber_io.erase_subscriber(db.session.get(Subscriber, subscriber_id), secret())

    eraser = threading.Thread(target=erase)
    eraser.start()
    eraser.join(timeout=1)
    assert eraser.is_alive(), "the erasure should wait for the other transaction's commit"
    return eraser


def dangling_references() -> int:
    gone = ~select(Subscriber.id).where(Subscriber.id == Delivery.subscriber_id).exists()
    return db.session.scalar(select(func.count()).where(Delivery.subscriber_id.is_not(None), gone))


def test_an_erasure_waits_for_an_enqueue_in_progress_and_clears_its_rows(app):
    """The enqueue holds the subscribers table, so the erasure waits for its commit; the key clears its new row."""
    ids = add_subscribers(20, "en")
    edition_id = add_edition("en").id

    with commit_held(app, lambda: ledger.enqueue_edition(edition_id)):
        eraser = erase_in_thread(app, ids[0])
    eraser.join(timeout=30)

    db.session.expire_all()
    assert db.session.get(Subscriber, ids[0]) is None
    rows = db.session.execute(select(Delivery.subscriber_id)).scalars().all()
    assert len(rows) == 20 and rows.count(None) == 1
    assert dangling_references() == 0


def test_an_erasure_waits_for_a_subscription_request_queueing_mail_for_the_same_address(app, add_subscriber):
    """The request holds the subscriber's row lock; the erasure takes it too before it clears deliveries."""
    subscriber_id = add_subscriber("both@example.org", ["en"]).id
    request = subscriptions.build_request(
        "both@example.org", ["en", "ru"], "en", RequestOrigin(API), smtp_utf8=smtp_utf8()
    )

    with commit_held(app, lambda: subscriptions.subscribe(request, current_settings())):
        eraser = erase_in_thread(app, subscriber_id)
    eraser.join(timeout=30)

    db.session.expire_all()
    assert db.session.get(Subscriber, subscriber_id) is None
    [row] = db.session.execute(select(Delivery.subscriber_id, Delivery.consent_id, Delivery.payload)).all()
    assert tuple(row) == (None, None, None)
    assert dangling_references() == 0


def test_no_message_is_accepted_after_a_cancel_returns_with_two_workers(app, smtp_server, tmp_path):
    """Measured before: 49 messages were accepted after cancel returned (the workers looked every 0.25 s)."""
    add_subscribers(400, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    env = worker_env(app, smtp_server, WORKER_BATCH_SIZE=20, SEND_RATE=150, SMTP_CONNECTIONS=3)
    workers = [
        subprocess.Popen(
            [NEWSLETTER, "worker", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: len(smtp_server.messages) >= 60, seconds=60)
        editions.cancel_edition(edition.id)
        accepted_when_cancel_returned = len(smtp_server.messages)
        results = [worker.communicate(timeout=60) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    assert [worker.returncode for worker in workers] == [0, 0], results
    assert len(smtp_server.messages) == accepted_when_cancel_returned
    counts = statuses(edition.id)
    assert counts["sent"] == accepted_when_cancel_returned and counts["sent"] + counts["cancelled"] == 400


def test_worker_processes_share_the_queue_and_split_the_connections(app, smtp_server, tmp_path):
    emails = emails_of(add_subscribers(200, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    env = worker_env(app, smtp_server, WORKER_BATCH_SIZE=10, SEND_RATE=200, SMTP_CONNECTIONS=2)

    result = subprocess.run(
        [NEWSLETTER, "worker", "--once", "--processes", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 200}
    assert len(set(db.session.scalars(db.select(Delivery.claimed_by).distinct()))) == 2
    assert result.stderr.count("started (1 connections)") == 2


def test_an_edition_whose_failed_rows_are_being_queued_again_is_not_marked_sent_meanwhile(app):
    """retry_failed holds the edition's row while it queues failed rows again; the worker's settling used to
    wait for it and then, with its statement's older snapshot, mark the edition sent over the queued rows."""
    add_subscribers(3, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    db.session.execute(db.update(Delivery).values(status="failed", last_reply="550 5.4.5 quota"))
    db.session.commit()

    with commit_held(app, lambda: editions.retry_failed(edition.id)):
        assert claims.settle_editions() == []
    db.session.expire_all()

    assert statuses(edition.id) == {"queued": 3}
    assert claims.settle_editions() == []
    assert db.session.get(Edition, edition.id).status == "sending"
