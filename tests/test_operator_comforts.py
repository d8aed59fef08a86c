"""Operator comforts: `.env` read by the CLI, `serve --port` moving the default base URL, `run` hidden."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path

from fixtures.bounces import free_port
from fixtures.delivery import NEWSLETTER, wait_for

ROOT = Path(__file__).resolve().parent.parent


def _newsletter(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NEWSLETTER, *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_flasks_run_is_hidden_from_help_but_still_works(tmp_path):
    listed = _newsletter("--help", cwd=tmp_path).stdout
    assert "  serve " in listed and "  run " not in listed
    assert _newsletter("run", "--help", cwd=tmp_path).returncode == 0


def test_a_dotenv_file_in_the_working_directory_configures_the_cli(tmp_path):
    (tmp_path / ".env").write_text(
        f"NEWSLETTER_DATABASE_URL=sqlite:///{tmp_path / 'from-dotenv.db'}\n"
        "NEWSLETTER_SECRET_KEY=from-dotenv-a-key-of-at-least-32-bytes\n"
    )
    assert _newsletter("db", "upgrade", cwd=tmp_path).returncode == 0
    assert (tmp_path / "from-dotenv.db").exists()
    assert _newsletter("suppression", "list", cwd=tmp_path).returncode == 0


def _serve(tmp_path: Path, port: int, **env) -> tuple[dict, str]:
    """Start `serve --port`, read the OpenAPI servers URL (built from the base URL), stop it."""
    base = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "NEWSLETTER_SECRET_KEY": "operator-test-key-of-at-least-32-bytes",
        "NEWSLETTER_SCHEDULE": "sun 03:00",
        **env,
    }
    assert _newsletter("db", "upgrade", cwd=tmp_path, env=base).returncode == 0
    server = subprocess.Popen(
        [NEWSLETTER, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    spec: dict = {}

    def answered() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1) as response:
                spec.update(json.load(response))
                return True
        except OSError:
            return False

    try:
        wait_for(answered, seconds=60)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    return spec, output


def test_serve_port_moves_the_default_base_url(tmp_path):
    port = free_port()
    spec, output = _serve(tmp_path, port)
    assert spec["servers"][0]["url"] == f"http://127.0.0.1:{port}/api/v1"
    assert "Warning" not in output


def test_serve_warns_when_an_explicit_base_url_points_elsewhere(tmp_path):
    port = free_port()
    spec, output = _serve(tmp_path, port, NEWSLETTER_BASE_URL="http://127.0.0.1:5000")
    assert spec["servers"][0]["url"] == "http://127.0.0.1:5000/api/v1"
    assert f"NEWSLETTER_BASE_URL is http://127.0.0.1:5000, but this server listens on http://127.0.0.1:{port}" in output


def test_make_run_takes_a_port():
    dry = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "run", "PORT=8123"], capture_output=True, text=True, timeout=60
    )
    assert "serve --port 8123" in dry.stdout
