"""Fail fast, honest health: start-up checks, /healthz, /readyz and the heartbeats behind it."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from fixtures.delivery import NEWSLETTER

from newsletter import create_app
from newsletter.core.extensions import db
from newsletter.models import Heartbeat, utcnow
from newsletter.operations import health, heartbeats


@pytest.fixture
def unmigrated(tmp_path):
    """An app on a fresh SQLite database nobody migrated."""
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
            "INSTANCE_PATH": str(tmp_path / "i"),
            "SECRET_KEY": "health-test-key-of-at-least-32-bytes",
            "TESTING": True,
        }
    )


def test_serve_against_an_unmigrated_database_exits_with_one_line_naming_db_upgrade(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "NEWSLETTER_SECRET_KEY": "operator-test-key-of-at-least-32-bytes",
    }
    for command in (["serve", "--port", "0"], ["worker", "--once"], ["scheduler"]):
        result = subprocess.run(
            [NEWSLETTER, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode != 0, command
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert len(lines) == 1 and "newsletter db upgrade" in lines[0], (command, lines)


def test_healthz_is_503_naming_the_fix_on_an_unmigrated_database(unmigrated):
    response = unmigrated.test_client().get("/healthz")
    assert response.status_code == 503
    assert "newsletter db upgrade" in response.json["database"]["problem"]


@pytest.mark.parametrize(
    "url, words",
    [
        ("smpt://relay.example:587", "smtp://"),
        ("smtp//relay.example", "smtp://"),
        ("smtp://relay.example:58x7", "not usable"),
        ("smtp://relay.example:587?startls=true", "unknown option(s) startls"),
    ],
)
def test_smtp_url_typos_stop_the_worker_with_one_line(app_config, url, words):
    app_config["SMTP_URL"] = url
    result = create_app(app_config).test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and words in result.output, result.output


def test_an_unreachable_database_is_named(tmp_path, app_config):
    app_config["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none"
    result = create_app(app_config).test_cli_runner().invoke(args=["scheduler", "--once"])
    assert result.exit_code == 1 and "database does not answer" in result.output
    assert len(result.output.strip().splitlines()) == 1


def _beat(role: str, age_seconds: float, interval: int = 30, process: str | None = None) -> None:
    heartbeats.beat(role, process or f"{role}:test", interval, {"smtp": "idle"} if role == "worker" else None)
    db.session.execute(
        db.update(Heartbeat)
        .where(Heartbeat.process == (process or f"{role}:test"))
        .values(beat_at=utcnow() - timedelta(seconds=age_seconds))
    )
    db.session.commit()


def test_readyz_names_each_part_and_is_200_when_all_beat(client):
    _beat("worker", 5)
    _beat("scheduler", 5, interval=60)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert {name: part["status"] for name, part in response.json.items() if isinstance(part, dict)} == {
        "database": "ok",
        "worker": "ok",
        "scheduler": "ok",
        "smtp": "ok",
        "sending": "ok",
    }


def test_readyz_is_503_naming_the_worker_when_its_heartbeat_is_late(client):
    _beat("worker", 300)
    _beat("scheduler", 5, interval=60)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["worker"]["status"] == "stale" and response.json["scheduler"]["status"] == "ok"


def test_readyz_is_503_when_no_worker_ever_beat(client):
    _beat("scheduler", 5, interval=60)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["worker"]["status"] == "missing"


def test_a_running_worker_beats_with_its_smtp_state(fast_smtp_config, app, smtp_server):
    from fixtures.delivery import add_edition, add_subscribers

    from newsletter.delivery import ledger, worker

    add_subscribers(3)
    ledger.enqueue_edition(add_edition())
    worker.run(once=True, poll_seconds=0.05)
    [row] = heartbeats.worker_beats()
    assert row.role == "worker"
    assert heartbeats.readiness()["worker"]["status"] == "ok"


def test_readyz_reports_a_failing_relay(client):
    _beat("scheduler", 5, interval=60)
    heartbeats.beat("worker", "worker:relay-down", 30, {"smtp": "failing"})
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["smtp"] == {"status": "failing", "state": "failing"}


def test_heartbeats_of_processes_silent_for_a_week_are_forgotten(app):
    _beat("worker", 8 * 86400, process="worker:long-gone")
    heartbeats.beat("worker", "worker:new", 30, {"smtp": "idle"})
    assert [row.process for row in heartbeats.worker_beats()] == ["worker:new"]


def test_a_database_behind_the_head_names_its_revision_and_the_fix(unmigrated):
    from sqlalchemy import text

    with unmigrated.app_context(), db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('0002')"))
    response = unmigrated.test_client().get("/healthz")
    assert response.status_code == 503
    head = ", ".join(sorted(health.head_revisions()))
    assert f"is at 0002, not at {head}: run `newsletter db upgrade`" in response.json["database"]["problem"]
