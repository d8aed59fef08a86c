"""The outage log tells the truth: recovery is claimed once, after a round trip to the database succeeded,
and the worker's tries grow apart while it is away (before: "database reachable again after 0.4s" 144 times
in 25 s while the server was down, and the back-off never grew). A real `newsletter worker` against a
PostgreSQL cluster of its own, stopped for a few seconds mid-send."""

from __future__ import annotations

import re
import subprocess
import time
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
from flask_migrate import stamp

from newsletter import create_app
from newsletter.core.extensions import db
from newsletter.delivery import ledger

pytestmark = pytest.mark.postgres_only
DOWN_SECONDS = 8


@pytest.fixture
def cluster_app(disposable_postgres, app_config):
    disposable_postgres.sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    app = create_app({**app_config, "DATABASE_URL": disposable_postgres.url})
    with app.app_context():
        db.create_all()
        stamp()
        yield app
        db.session().invalidate()
        db.session.remove()
        db.engine.dispose()


def test_recovery_is_claimed_once_after_a_round_trip_and_tries_grow_apart(
    cluster_app, disposable_postgres, smtp_server, tmp_path: Path
):
    emails = emails_of(add_subscribers(60, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    edition_id = edition.id
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [NEWSLETTER, "worker", "--once"],
            env=worker_env(cluster_app, smtp_server, SEND_RATE=10, LEASE_SECONDS=3, WORKER_BATCH_SIZE=5),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: len(smtp_server.messages) >= 10, seconds=60)
            disposable_postgres.stop()
            stopped = time.monotonic()
            time.sleep(DOWN_SECONDS)
            disposable_postgres.start()
            worker.wait(timeout=180)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    output = log_path.read_text()
    assert worker.returncode == 0, output
    claims = re.findall(r"database reachable again after ([\d.]+)s(?: \((\d+) tries\))?", output)
    assert len(claims) == 1, claims
    seconds, tries = float(claims[0][0]), int(claims[0][1] or 0)
    assert seconds >= DOWN_SECONDS * 0.8, f"recovery claimed while the server was down: {seconds}s"
    assert tries <= 12, f"{tries} tries in {seconds:.1f}s: the back-off does not grow"
    assert time.monotonic() - stopped < 180
    db.session().invalidate()
    db.session.remove()
    # a server stopped with -m immediate can lose the reply to a commit in flight: at most one message per
    # connection (2) goes twice, with the same Message-ID (the duplicates are the fencing work's, not this test's)
    twice = {address for address, count in recipients(smtp_server.messages).items() if count > 1}
    assert len(twice) <= 2, twice
    assert_each_once(smtp_server, emails, except_duplicates_of=twice)
    assert statuses(edition_id) == {"sent": 60}
