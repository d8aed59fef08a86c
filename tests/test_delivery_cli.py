"""`newsletter worker` and `newsletter serve`: progress where a person watches, log lines elsewhere, one process."""

from __future__ import annotations

import io
import logging
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from fixtures.delivery import NEWSLETTER, add_edition, add_subscribers, statuses, wait_for

from newsletter.cli.delivery import LogProgress, TerminalProgress
from newsletter.delivery import ledger
from newsletter.delivery.worker import Progress


def test_worker_once_drains_and_logs_plain_lines_without_a_terminal(app, runner, outbox, caplog):
    add_subscribers(3, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)

    with caplog.at_level(logging.INFO, logger="newsletter.worker"):
        result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert statuses(edition.id) == {"sent": 3}
    assert len(list(outbox.glob("*.eml"))) == 3
    lines = [record.getMessage() for record in caplog.records if record.name == "newsletter.worker"]
    assert any("delivered 3 (sent 3, failed 0" in line for line in lines)
    assert "\r" not in result.output
    assert "@example.net" not in caplog.text


def test_terminal_progress_shows_a_bar_rate_and_eta():
    stream = io.StringIO()
    started = time.monotonic() - 2
    TerminalProgress(stream)(Progress(sent=100, failed=2, retried=1, cancelled=0, remaining=98, started=started))

    line = stream.getvalue()
    assert line.startswith("\r[") and "102/200" in line and "msg/s" in line and "ETA 0:00:0" in line


def test_log_progress_reports_at_most_every_few_seconds(caplog):
    reporter = LogProgress()
    progress = Progress(sent=1, failed=0, retried=0, cancelled=0, remaining=5, started=time.monotonic())
    with caplog.at_level(logging.INFO, logger="newsletter.worker"):
        for _ in range(5):
            reporter(progress)
    assert len(caplog.records) == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_runs_web_and_worker_in_one_process(app, tmp_path):
    add_subscribers(2, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": app.config["DATABASE_URL"],
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "NEWSLETTER_SCHEDULE": '"sun 03:00"',
    }
    server = subprocess.Popen(
        [NEWSLETTER, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), seconds=30)
        wait_for(lambda: len(list((tmp_path / "outbox").glob("*.eml"))) == 2, seconds=30)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert "Traceback" not in output
    wait_for(lambda: statuses(edition.id) == {"sent": 2}, seconds=5)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_several_processes_on_sqlite_are_refused_clearly(app, runner, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's rule; PostgreSQL runs several (test_delivery_pg_concurrency)")
    result = runner.invoke(args=["worker", "--once", "--processes", "2"])
    assert result.exit_code != 0 and "SQLite runs one worker process at a time" in result.output
