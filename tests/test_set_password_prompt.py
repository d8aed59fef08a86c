"""`newsletter editors set-password` on a real terminal (a pseudo-terminal, a real process): asked twice, never
echoed; piped in, one line is read as before."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from fixtures.console import csrf_token, post_form

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")
SECRET = "typed on a terminal 42"


def _env(app_config) -> dict:
    return {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": app_config["DATABASE_URL"],
        "NEWSLETTER_SECRET_KEY": app_config["SECRET_KEY"],
    }


def _read_until(fd: int, wanted: bytes, seconds: float = 30) -> bytes:
    seen, deadline = b"", time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _w, _x = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_on_a_terminal_the_password_is_asked_twice_and_not_echoed(app, app_config, client, make_account):
    make_account("Alena")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [NEWSLETTER, "editors", "set-password", "Alena", "--password-stdin"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(app_config),
        close_fds=True,
    )
    os.close(follower)
    try:
        transcript = _read_until(leader, b"New password: ")
        os.write(leader, SECRET.encode() + b"\n")
        transcript += _read_until(leader, b"Repeat the new password: ")
        os.write(leader, SECRET.encode() + b"\n")
        transcript += _read_until(leader, b"Password set")
        assert process.wait(30) == 0, transcript
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    assert b"Repeat the new password" in transcript and b"Password set" in transcript
    assert SECRET.encode() not in transcript
    response = post_form(client, "/console/sign-in", {"login": "Alena", "password": SECRET})
    assert response.status_code == 302 and csrf_token(client, "/console/week")


def test_piped_the_first_line_is_read(app, app_config, make_account):
    make_account("Alena")
    result = subprocess.run(
        [NEWSLETTER, "editors", "set-password", "Alena"],
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        env=_env(app_config),
        timeout=60,
    )
    assert result.returncode == 0 and "Password set" in result.stdout and SECRET not in result.stdout
