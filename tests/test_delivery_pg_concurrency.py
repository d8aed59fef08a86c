"""PostgreSQL scale-out: workers in separate processes share one queue (SKIP LOCKED); keys decide enqueue races."""
from __future__ import annotations

import subprocess
import threading

import pytest

from newsletter.delivery import ledger
from newsletter.extensions import db
from newsletter.models import Delivery

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
