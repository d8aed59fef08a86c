"""One settings object: read once, typed and checked; unknown NEWSLETTER_* variables reported at start-up."""

from __future__ import annotations

import re
import subprocess
from dataclasses import FrozenInstanceError
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fixtures.delivery import NEWSLETTER

from newsletter.core.settings import settings_of

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
INTERFACES = ("api", "web", "console", "cli")
CONFIG_READ = re.compile(r"current_app\.config\s*(\[|\.get\()")


def _run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{cwd / 'settings.db'}",
        "NEWSLETTER_SECRET_KEY": "settings-test-key-of-at-least-32-bytes",
        **env,
    }
    return subprocess.run([NEWSLETTER, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def test_settings_are_typed_and_frozen(app):
    settings = settings_of(app)
    assert settings.site.timezone == ZoneInfo("Europe/Minsk")
    assert isinstance(settings.delivery.smtp_connections, int) and isinstance(settings.delivery.send_rate, float)
    assert isinstance(settings.mail.outbox_dir, Path)
    with pytest.raises(FrozenInstanceError):
        settings.site.base_url = "https://elsewhere.example"  # type: ignore[misc]  # the point: it cannot change


def test_an_unknown_time_zone_stops_start_up_with_its_name(tmp_path, database_url, monkeypatch):
    from newsletter import create_app
    from newsletter.core.config import ConfigError

    monkeypatch.setenv("NEWSLETTER_TIMEZONE", "Europe/Minks")
    with pytest.raises(ConfigError, match="NEWSLETTER_TIMEZONE"):
        create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)})


def test_only_the_interfaces_and_the_factory_read_the_flask_config():
    """Services take the values they need; `current_app.config` is read in the interface layers only."""
    readers = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in INTERFACES and path != PACKAGE / "__init__.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if CONFIG_READ.search(line)
    ]
    assert readers == []


def test_a_mistyped_variable_is_reported_with_the_name_meant(tmp_path):
    # `routes` builds the app, as every command but --help does (help lists commands without starting anything)
    result = _run("routes", cwd=tmp_path, NEWSLETTER_SMTP_CONECTIONS="8")
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert result.returncode == 0
    assert len(warnings) == 1
    assert "NEWSLETTER_SMTP_CONECTIONS" in warnings[0] and "NEWSLETTER_SMTP_CONNECTIONS" in warnings[0]


def test_variables_read_outside_the_settings_are_not_reported(tmp_path):
    result = _run(
        "routes",
        cwd=tmp_path,
        NEWSLETTER_TEST_DATABASE_URL="sqlite://",
        NEWSLETTER_SMTP_CONNECTIONS="2",
        NEWSLETTER_FEED_EN="https://example.org/feed",
    )
    assert result.returncode == 0 and "WARNING" not in result.stderr


def test_the_worker_reports_a_mistyped_variable_once(tmp_path, backend, database_url):
    """Once, though on PostgreSQL the command starts worker processes, each building the app again."""
    database = {"NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox")}
    if backend == "postgresql":
        database["NEWSLETTER_DATABASE_URL"] = database_url
    assert _run("db", "upgrade", cwd=tmp_path, **database).returncode == 0
    processes = "2" if backend == "postgresql" else "1"
    result = _run("worker", "--once", "--processes", processes, cwd=tmp_path, NEWSLETTER_LEASE_SECOND="30", **database)
    assert result.returncode == 0, result.stderr
    reported = [line for line in result.stderr.splitlines() if "NEWSLETTER_LEASE_SECOND" in line]
    assert len(reported) == 1 and "NEWSLETTER_LEASE_SECONDS" in reported[0]
