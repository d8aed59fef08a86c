"""A worker killed with SIGKILL mid-batch: its lease expires, a restarted worker finishes, nobody is skipped."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from fixtures.delivery import (
    NEWSLETTER,
    add_edition,
    add_subscribers,
    assert_each_once,
    emails_of,
    recipients,
    statuses,
    wait_for,
    worker_env,
)

from newsletter.delivery import ledger

CONNECTIONS = 2


def test_sigkilled_worker_is_replaced_and_only_in_flight_messages_repeat(app, smtp_server, tmp_path):
    emails = emails_of(add_subscribers(60, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    env = worker_env(app, smtp_server, SEND_RATE=60)

    doomed = subprocess.Popen(
        [NEWSLETTER, "worker"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: len(smtp_server.messages) >= 10)
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    assert statuses(edition.id)["sending"] > 0, "the kill should leave claimed rows behind"

    restarted = subprocess.run(
        [NEWSLETTER, "worker", "--once"],
        env=worker_env(app, smtp_server),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert restarted.returncode == 0, restarted.stderr
    counts = recipients(smtp_server.messages)
    repeated = {address for address, count in counts.items() if count > 1}
    assert len(repeated) <= CONNECTIONS
    assert_each_once(smtp_server, emails, except_duplicates_of=repeated)
    message_ids = defaultdict(set)
    for message in smtp_server.messages:
        message_ids[message.recipients[0]].add(message.parsed()["Message-ID"])
    assert all(len(ids) == 1 for ids in message_ids.values())
    assert statuses(edition.id) == {"sent": 60}


def test_a_second_worker_on_sqlite_is_told_clearly(app, smtp_server, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("the one-worker lock is SQLite's; PostgreSQL runs several workers (test_delivery_pg_concurrency)")
    first = subprocess.Popen(
        [NEWSLETTER, "worker"],
        env=worker_env(app, smtp_server),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///") + ".worker.lock")
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), seconds=20)
        second = subprocess.run(
            [NEWSLETTER, "worker", "--once"],
            env=worker_env(app, smtp_server),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert second.returncode == 1
    assert "another worker is already running" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0
