"""A worker killed with SIGKILL mid-batch: its lease expires, a restarted worker finishes, nobody is skipped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from newsletter.delivery import ledger

from fixtures.delivery import add_edition, add_subscribers, assert_each_once, emails_of, recipients, statuses

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")
CONNECTIONS = 2


def worker_env(app, smtp_server, **extra) -> dict:
    env = dict(os.environ)
    env.update({
        "NEWSLETTER_DATABASE_URL": app.config["DATABASE_URL"],
        "NEWSLETTER_SMTP_URL": smtp_server.url,
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_MAIL_FROM": app.config["MAIL_FROM"],
        "NEWSLETTER_BASE_URL": app.config["BASE_URL"],
        "NEWSLETTER_LEASE_SECONDS": "1",
        "NEWSLETTER_SMTP_CONNECTIONS": str(CONNECTIONS),
        "NEWSLETTER_SMTP_TIMEOUT": "5",
        "NEWSLETTER_RETRY_BASE_SECONDS": "0.05",
        "NEWSLETTER_WORKER_BATCH_SIZE": "20",
    })
    env.update({f"NEWSLETTER_{key}": str(value) for key, value in extra.items()})
    return env


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigkilled_worker_is_replaced_and_only_in_flight_messages_repeat(app, smtp_server, tmp_path):
    emails = emails_of(add_subscribers(60, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    env = worker_env(app, smtp_server, SEND_RATE=60)

    doomed = subprocess.Popen([NEWSLETTER, "worker"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(smtp_server.messages) >= 10)
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    assert statuses(edition.id)["sending"] > 0, "the kill should leave claimed rows behind"

    restarted = subprocess.run([NEWSLETTER, "worker", "--once"], env=worker_env(app, smtp_server), cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)

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
        return
    first = subprocess.Popen([NEWSLETTER, "worker"], env=worker_env(app, smtp_server), cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lock = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///") + ".worker.lock")
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), seconds=20)
        second = subprocess.run([NEWSLETTER, "worker", "--once"], env=worker_env(app, smtp_server), cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert second.returncode == 1
    assert "another worker is already running" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0
