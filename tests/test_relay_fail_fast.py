"""A relay that cannot work is said at once: `worker --once` exits non-zero with one line within
NEWSLETTER_SMTP_PROBE_SECONDS (the real command against a real aiosmtpd server configured to refuse)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from fixtures.delivery import (
    NEWSLETTER,
    add_edition,
    add_subscribers,
    running_worker,
    statuses,
    wait_for,
    worker_env,
)

from newsletter.core.extensions import db
from newsletter.delivery import ledger
from newsletter.models import Edition
from newsletter.models.content import EditionStatus

PROBE_SECONDS = 2
MARGIN_SECONDS = 5  # beyond the start-up of the same command against a working relay, measured in the same test


def _closed_port() -> int:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        return taken.getsockname()[1]  # nobody listens once the socket is closed


def _worker_once(app, smtp_server, url: str) -> tuple[subprocess.CompletedProcess, float]:
    env = worker_env(app, smtp_server, SMTP_URL=url, SMTP_PROBE_SECONDS=PROBE_SECONDS)
    started = time.monotonic()
    result = subprocess.run(
        [NEWSLETTER, "worker", "--once"], env=env, capture_output=True, text=True, timeout=PROBE_SECONDS + 60
    )
    return result, time.monotonic() - started


def _start_up_seconds(app, smtp_server) -> float:
    """`worker --once` with a working relay and nothing to send: interpreter, app factory and checks."""
    result, seconds = _worker_once(app, smtp_server, f"smtp://mailer:right@127.0.0.1:{smtp_server.port}")
    assert result.returncode == 0, result.stderr
    return seconds


def _queued_edition(count: int = 3) -> int:
    add_subscribers(count, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition.id


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "relay, words",
    [
        ("wrong port", "cannot be reached"),
        ("refused starttls", "refused TLS"),
        ("wrong password", "refused authentication"),
    ],
)
def test_worker_once_against_a_relay_that_cannot_work_exits_with_one_line(app, smtp_auth_server, relay, words):
    started_once = _start_up_seconds(app, smtp_auth_server)
    edition_id = _queued_edition()
    url = {
        "wrong port": f"smtp://127.0.0.1:{_closed_port()}",
        "refused starttls": f"smtp://mailer:right@127.0.0.1:{smtp_auth_server.port}?starttls=true",
        "wrong password": f"smtp://mailer:wrong@127.0.0.1:{smtp_auth_server.port}",
    }[relay]
    result, seconds = _worker_once(app, smtp_auth_server, url)
    line = _one_line(result)
    assert result.returncode == 1, line
    assert words in line and f"after {PROBE_SECONDS}s" in line and "NEWSLETTER_SMTP_URL" in line, line
    assert "wrong" not in line, "the password stays out of the line"
    assert PROBE_SECONDS * 0.5 <= seconds < started_once + PROBE_SECONDS + MARGIN_SECONDS, (seconds, started_once)
    assert smtp_auth_server.messages == []
    assert statuses(edition_id) == {"queued": 3}, "nothing was claimed, failed or retried"


def test_worker_once_with_the_right_password_sends(app, smtp_auth_server):
    edition_id = _queued_edition()
    url = f"smtp://mailer:right@127.0.0.1:{smtp_auth_server.port}"
    result, _seconds = _worker_once(app, smtp_auth_server, url)
    assert result.returncode == 0, result.stderr
    assert statuses(edition_id) == {"sent": 3}
    assert len(smtp_auth_server.messages) == 3


def test_a_refused_password_while_sending_pauses_the_edition_and_says_so(app, fast_smtp_config, smtp_auth_server):
    """The password changed at the relay under a running worker: the edition is paused by the breaker with the
    reason (no reader failed, nothing retried for days), and /readyz names it."""
    app.config.update(SMTP_URL=f"smtp://mailer:right@127.0.0.1:{smtp_auth_server.port}", HEARTBEAT_SECONDS=1)
    smtp_auth_server.password = "changed"
    edition_id = _queued_edition(5)
    with running_worker(app):
        wait_for(lambda: _edition(edition_id).status == EditionStatus.PAUSED, seconds=30)
        wait_for(lambda: _readyz(app)["smtp"]["state"] == "auth-refused", seconds=30)
    edition = _edition(edition_id)
    assert "refused authentication" in edition.paused_reason and "535" in edition.paused_reason
    assert statuses(edition_id) == {"queued": 5}
    ready = _readyz(app)
    assert ready["smtp"]["status"] == "failing"


def _edition(edition_id: int) -> Edition:
    db.session.expire_all()
    edition = db.session.get(Edition, edition_id)
    db.session.commit()
    return edition


def _readyz(app) -> dict:
    return app.test_client().get("/readyz").json


def _serve_env(app, tmp_path, **extra) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": app.config["DATABASE_URL"],
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "NEWSLETTER_SCHEDULE": '"sun 03:00"',
    }
    env.update({f"NEWSLETTER_{key}": str(value) for key, value in extra.items()})
    return env


def test_serve_with_a_dkim_key_that_cannot_sign_exits_at_start_with_one_line(app, tmp_path):
    key = tmp_path / "dkim.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    env = _serve_env(app, tmp_path, DKIM_SELECTOR="s1", DKIM_DOMAIN="example.org", DKIM_PRIVATE_KEY_PATH=key)
    result = subprocess.run(
        [NEWSLETTER, "serve", "--port", "0"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    line = _one_line(result)
    assert result.returncode == 1 and "DKIM" in line and str(key) in line, line


@pytest.mark.parametrize("url", ["not a url", "postgresql://user:secret@db.example:port/news", "mysql://u@h/db"])
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker", "--once"], ["scheduler", "--once"]])
def test_a_database_url_that_is_not_a_url_is_one_line(tmp_path, url, command):
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": "operator-test-key-of-at-least-32-bytes",
    }
    result = subprocess.run([NEWSLETTER, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    line = _one_line(result)
    assert result.returncode == 1 and "NEWSLETTER_DATABASE_URL" in line, line
    assert "secret" not in line, "the password stays out of the line"


def test_serve_warns_of_an_unreachable_relay_and_readyz_says_so_until_it_answers(app, tmp_path, smtp_server):
    port = smtp_server.port
    smtp_server.stop()  # the relay is down when serve starts
    env = _serve_env(app, tmp_path, SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_TIMEOUT=2, HEARTBEAT_SECONDS=1)
    web = _closed_port()
    server = subprocess.Popen(
        [NEWSLETTER, "serve", "--port", str(web)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: _smtp_state(web) == "unreachable", seconds=30)
        smtp_server.controller = smtp_server._controller()
        smtp_server.start()  # the relay comes up: the background probe (every 10 s) sees it
        wait_for(lambda: _smtp_state(web) == "idle", seconds=40)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    warnings = [line for line in output.splitlines() if "WARNING" in line and f"127.0.0.1:{port}" in line]
    assert len(warnings) == 1 and "cannot be reached" in warnings[0], output
    assert "Traceback" not in output


def _smtp_state(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    except OSError:
        return None
    return json.loads(body).get("smtp", {}).get("state")


def test_worker_once_whose_relay_goes_away_mid_run_exits_with_one_line_and_gives_rows_back(app, smtp_server):
    edition_id = _queued_edition(60)
    env = worker_env(app, smtp_server, SMTP_PROBE_SECONDS=PROBE_SECONDS, SEND_RATE=10, LEASE_SECONDS=30)
    worker = subprocess.Popen(
        [NEWSLETTER, "worker", "--once"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: len(smtp_server.messages) >= 5, seconds=60)
        smtp_server.stop()
        gone = time.monotonic()
        _out, errors = worker.communicate(timeout=PROBE_SECONDS + 60)
        seconds = time.monotonic() - gone  # the process is running: no start-up in this figure
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        smtp_server.controller = smtp_server._controller()
        smtp_server.start()  # for the fixture's teardown
    last = errors.strip().splitlines()[-1]
    assert worker.returncode == 1, errors
    assert last.startswith("Error: SMTP relay") and "cannot be reached" in last, last
    assert "Traceback" not in errors
    assert seconds < PROBE_SECONDS + MARGIN_SECONDS
    counts = statuses(edition_id)
    assert counts.get("sending", 0) == 0, counts
    assert counts.get("failed", 0) == 0 and counts["sent"] + counts.get("queued", 0) == 60, counts
