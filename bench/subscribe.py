"""The subscribe API against a bare Flask app doing the same validate-insert-sign, under the same gunicorn.

    .venv/bin/python bench/subscribe.py                       # limits off, then default limits on Redis
    .venv/bin/python bench/subscribe.py --requests 3000 --clients 4 --workers 2 --runs 2

Both apps run under `gunicorn -w WORKERS` on 127.0.0.1 with a SQLite file of their own; the load comes from
CLIENTS separate processes (http.client, one connection per request, as gunicorn's sync workers close them),
each sending its share of REQUESTS distinct addresses, bounded by `--seconds`. Figures are requests/s over the
timed part (after a warm-up), and the ratio of the newsletter app to the bare app in the same run. With limits
on, every request carries its own `X-Forwarded-For` (`NEWSLETTER_PROXY_HOPS=1`), so the per-IP limit counts in
Redis without refusing the benchmark's requests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
SECRET = "bench-secret-key-of-at-least-32-bytes-long"
REDIS_URL = "redis://127.0.0.1:6379/14"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _newsletter_env(folder: Path, limits: bool) -> dict:
    database = f"sqlite:///{folder / 'newsletter.db'}"
    env = {
        "NEWSLETTER_DATABASE_URL": database,
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
        "NEWSLETTER_RATE_LIMITS": "" if limits else "off",
        "NEWSLETTER_RATE_LIMIT_STORAGE_URL": REDIS_URL if limits else "memory://",
        "NEWSLETTER_PROXY_HOPS": "1",
    }
    from newsletter import create_app
    from newsletter.core.extensions import db

    app = create_app({"DATABASE_URL": database, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(folder / "instance")})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return env


def _serve(target: str, env: dict, workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = [GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", target]
    log = open(Path(env.get("BENCH_LOG", os.devnull)), "ab")  # noqa: SIM115  (closed with the server)
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, port
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"{target} did not start on port {port}")


def _client(arguments: tuple[int, str, int, float, int]) -> tuple[int, int, float, float]:
    """Send `count` subscriptions; return (accepted, other answers, first start, last end)."""
    port, prefix, count, deadline, offset = arguments
    accepted = other = 0
    started = time.time()
    for number in range(count):
        if time.time() > deadline:
            break
        body = json.dumps({"email": f"{prefix}{number}@example.org", "languages": ["en", "ru"]})
        sequence = offset + number
        headers = {
            "Content-Type": "application/json",
            "X-Forwarded-For": f"10.{sequence >> 16 & 255}.{sequence >> 8 & 255}.{sequence & 255}",
        }
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/api/v1/subscriptions", body, headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status == 202:
            accepted += 1
        else:
            other += 1
    return accepted, other, started, time.time()


def _load(port: int, requests: int, clients: int, seconds: float, offset: int) -> tuple[float, int, int]:
    run = uuid.uuid4().hex[:8]
    deadline = time.time() + seconds
    share = requests // clients
    jobs = [(port, f"r{run}c{index}n", share, deadline, offset + index * share) for index in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(_client, jobs)
    accepted = sum(result[0] for result in results)
    other = sum(result[1] for result in results)
    elapsed = max(result[3] for result in results) - min(result[2] for result in results)
    return (accepted + other) / elapsed, accepted, other


def _measure(target: str, env: dict, options, offset: int) -> float:
    server, port = _serve(target, env, options.workers)
    try:
        _load(port, 100, options.clients, options.seconds, offset)  # warm-up: imports, connections, caches
        rate, accepted, other = _load(port, options.requests, options.clients, options.seconds, offset + 100_000)
    finally:
        server.terminate()
        server.wait(30)
    if other:
        print(f"  {target}: {other} answers other than 202")
    print(f"  {target}: {rate:.0f} requests/s ({accepted} accepted)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60, help="upper bound per timed load")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--limits", choices=("off", "redis", "both"), default="both")
    options = parser.parse_args()
    modes = ("off", "redis") if options.limits == "both" else (options.limits,)
    for run in range(options.runs):
        for mode in modes:
            with tempfile.TemporaryDirectory() as folder_name:
                folder = Path(folder_name)
                env = _newsletter_env(folder, limits=mode == "redis")
                bare_env = {"BARE_DATABASE": str(folder / "bare.db"), "BARE_SECRET": SECRET}
                print(f"run {run + 1}, limits {mode}:")
                offset = (run * 2 + (mode == "redis")) * 1_000_000
                bare = _measure("bench.bare_subscribe:app", bare_env, options, offset)
                real = _measure("wsgi:app", env, options, offset + 500_000)
                print(f"  ratio newsletter / bare: {real / bare:.2f}")


if __name__ == "__main__":
    main()
