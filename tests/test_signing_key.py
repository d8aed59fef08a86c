"""The signing key: generated once by exactly one of many racing processes, read as text, long enough."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsletter import create_app
from newsletter.core.config import MIN_SECRET_KEY_BYTES, ConfigError

PROCESSES = 12
RACER = """
import sys, time
from pathlib import Path
from newsletter.core.config import _checked_secret_key  # what create_app runs, without the app's imports
instance, go = Path(sys.argv[1]), Path(sys.argv[2])
instance.mkdir(parents=True, exist_ok=True)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
print(repr(_checked_secret_key(None, instance)))
"""


def test_processes_starting_together_all_hold_the_same_key(tmp_path):
    instance, go = tmp_path / "instance", tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(instance), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        for _ in range(PROCESSES)
    ]
    time.sleep(2)  # let every racer import and wait at the line (no assertion depends on this timing)
    go.touch()
    keys = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        keys.append(eval(out.strip()))  # noqa: S307  (our own repr() of a str)
    assert len(set(keys)) == 1
    [key] = set(keys)
    assert isinstance(key, str) and len(key.encode()) >= MIN_SECRET_KEY_BYTES
    assert (instance / "secret_key").read_text().strip() == key
    assert [path.name for path in instance.iterdir() if path.name.startswith(".secret_key")] == []


def test_a_numeric_key_from_the_environment_stays_text(tmp_path, monkeypatch):
    digits = "1234567890" * 4
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", digits)
    key = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"]
    assert key == digits


@pytest.mark.parametrize("short", ["x", "1", "a" * (MIN_SECRET_KEY_BYTES - 1)])
def test_a_short_key_stops_start_up_naming_the_variable(tmp_path, monkeypatch, short):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", short)
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET_KEY must be at least 32 bytes"):
        create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})


def test_an_empty_key_file_left_by_an_old_race_stops_start_up(tmp_path):
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})


def test_the_command_line_says_so_in_one_line(tmp_path):
    env = {"NEWSLETTER_SECRET_KEY": "short", "NEWSLETTER_DATABASE_URL": "sqlite://", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "newsletter"), "editions", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode != 0 and "NEWSLETTER_SECRET_KEY must be at least 32 bytes" in result.stderr
    assert "Traceback" not in result.stderr
