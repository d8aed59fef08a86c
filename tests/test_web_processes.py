"""A warning at start when limits are counted in memory by more than one web process (gunicorn `-w`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsletter.core.web_processes import memory_limits_warning, web_worker_count

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


@pytest.mark.parametrize(
    "argv, environ, count",
    [
        (["/usr/bin/gunicorn", "-w", "4", "wsgi:app"], {}, 4),
        (["gunicorn", "--workers=3", "wsgi:app"], {}, 3),
        (["gunicorn", "--workers", "2", "wsgi:app"], {}, 2),
        (["gunicorn", "-w5", "wsgi:app"], {}, 5),
        (["gunicorn", "wsgi:app"], {"GUNICORN_CMD_ARGS": "--bind 127.0.0.1:8000 --workers 6"}, 6),
        (["gunicorn", "wsgi:app"], {"WEB_CONCURRENCY": "3"}, 3),
        (["gunicorn", "wsgi:app"], {}, 1),
        (["newsletter", "serve", "-w", "4"], {}, 1),  # not gunicorn: its -w means nothing here
        (["gunicorn", "-w", "many", "wsgi:app"], {}, 1),
    ],
)
def test_the_number_of_web_processes_is_read_from_gunicorns_arguments_and_environment(argv, environ, count):
    assert web_worker_count(argv, environ) == count


def test_the_warning_only_when_memory_counts_alone_in_several_processes():
    assert "4 times looser" in memory_limits_warning("memory://", True, 4)
    assert memory_limits_warning("redis://127.0.0.1:6379/0", True, 4) is None
    assert memory_limits_warning("memory://", False, 4) is None
    assert memory_limits_warning("memory://", True, 1) is None


def _gunicorn_log(app_config, *arguments: str, storage: str = "memory://", seconds: float = 40) -> str:
    """Start gunicorn on wsgi:app, wait for its workers to boot, stop it, and return what it logged."""
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": app_config["DATABASE_URL"],
        "NEWSLETTER_SECRET_KEY": app_config["SECRET_KEY"],
        "NEWSLETTER_RATE_LIMIT_STORAGE_URL": storage,
    }
    env.pop("WEB_CONCURRENCY", None)
    log = Path(app_config["INSTANCE_PATH"]).parent / "gunicorn.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [GUNICORN, *arguments, "-b", "127.0.0.1:0", "wsgi:app"], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and log.read_text().count("Booting worker") < 2:
                time.sleep(0.2)
            time.sleep(1)
        finally:
            process.terminate()
            process.wait(20)
    return log.read_text()


def test_gunicorn_with_two_workers_and_memory_limits_warns(app, app_config):
    text = _gunicorn_log(app_config, "-w", "2")
    assert text.count("Booting worker") == 2, text
    assert "2 times looser" in text and "redis://" in text


def test_gunicorn_with_two_workers_and_redis_limits_is_quiet(app, app_config):
    text = _gunicorn_log(app_config, "-w", "2", storage="redis://127.0.0.1:6379/15")
    assert text.count("Booting worker") == 2, text
    assert "looser" not in text
