"""The worker against a database that goes away: restarts, killed connections, idle-session timeouts.

Before, a sender whose connection died kept failing its "sent" marks; the rows were requeued when their lease
ran out and sent again, without end (measured: 6 copies each to 52 readers, nothing recorded), and a restart
of PostgreSQL ended the worker. Each test runs a real `newsletter worker` process against a PostgreSQL cluster
of its own and checks that every reader gets exactly one copy and that the worker never exits on an outage.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

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
from flask_migrate import stamp

from newsletter import create_app
from newsletter.core.extensions import db
from newsletter.delivery import ledger

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def cluster_app(disposable_postgres, app_config):
    disposable_postgres.sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    app = create_app({**app_config, "DATABASE_URL": disposable_postgres.url})
    with app.app_context():
        db.create_all()
        stamp()  # at head, as `newsletter db upgrade` leaves it: the worker checks this at start
        yield app
        _reconnect()
        db.engine.dispose()


def _worker(app, smtp_server, tmp_path: Path, *arguments: str, **settings) -> subprocess.Popen:
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115  (the worker process writes it until it exits)
    return subprocess.Popen(
        [NEWSLETTER, "worker", *arguments],
        env=worker_env(app, smtp_server, **settings),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen, tmp_path: Path, timeout: float = 120) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    return (tmp_path / "worker.log").read_text()


def _reconnect() -> None:
    """The test's own session lost its connection in the outage too: drop it."""
    db.session().invalidate()
    db.session.remove()


def _queue_edition(count: int) -> tuple[int, list[str]]:
    emails = emails_of(add_subscribers(count, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition.id, emails


def test_two_restarts_during_a_send_lose_nothing_and_repeat_nothing(
    cluster_app, disposable_postgres, smtp_server, tmp_path
):
    edition_id, emails = _queue_edition(240)
    worker = _worker(cluster_app, smtp_server, tmp_path, "--once", SEND_RATE=60, LEASE_SECONDS=2)

    wait_for(lambda: len(smtp_server.messages) >= 40, seconds=60)
    disposable_postgres.restart()
    wait_for(lambda: len(smtp_server.messages) >= 120, seconds=60)
    disposable_postgres.restart()
    output = _finish(worker, tmp_path)

    assert worker.returncode == 0, output
    _reconnect()
    assert_each_once(smtp_server, emails)
    assert statuses(edition_id) == {"sent": 240}
    assert "database unreachable" in output and "Traceback" not in output


def test_connections_killed_by_the_server_mid_send_repeat_nothing(
    cluster_app, disposable_postgres, smtp_server, tmp_path
):
    edition_id, emails = _queue_edition(200)
    worker = _worker(cluster_app, smtp_server, tmp_path, "--once", SEND_RATE=80, LEASE_SECONDS=2)
    kill_others = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    for reached in (30, 90, 150):
        wait_for(lambda reached=reached: len(smtp_server.messages) >= reached, seconds=60)
        disposable_postgres.sql(kill_others)
    output = _finish(worker, tmp_path)

    assert worker.returncode == 0, output
    _reconnect()
    assert_each_once(smtp_server, emails)
    assert statuses(edition_id) == {"sent": 200}


def test_an_idle_worker_whose_sessions_timed_out_sends_the_next_edition_once(
    cluster_app, disposable_postgres, smtp_server, tmp_path
):
    disposable_postgres.sql("ALTER DATABASE newsletter SET idle_session_timeout = '1s'")
    try:
        worker = _worker(cluster_app, smtp_server, tmp_path, LEASE_SECONDS=2)
        wait_for(lambda: "started" in (tmp_path / "worker.log").read_text(), seconds=30)
        wait_for(lambda: _idle_sessions_were_cut(disposable_postgres), seconds=30)
        edition_id, emails = _queue_edition(150)
        wait_for(lambda: len(smtp_server.messages) >= 150, seconds=60)
        _reconnect()
        wait_for(lambda: statuses(edition_id) == {"sent": 150}, seconds=30)
        worker.send_signal(signal.SIGTERM)
        output = _finish(worker, tmp_path, timeout=60)
    finally:
        disposable_postgres.sql("ALTER DATABASE newsletter RESET idle_session_timeout")

    assert worker.returncode == 0, output
    assert_each_once(smtp_server, emails)


def _idle_sessions_were_cut(cluster) -> bool:
    """True once the server has been ending the worker's idle sessions (the setting applies to new sessions)."""
    log = (cluster.root / "server.log").read_text(errors="replace")
    return "idle-session timeout" in log or "idle session timeout" in log
