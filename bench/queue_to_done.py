"""Speed as users meet it: queue-to-done with a running worker, and DKIM against an honest signing floor.

(a) Queue-to-done: a long-running `newsletter worker` (default processes, 4 connections in all) already
    waits, idle, when an edition of N readers is enqueued; the time from the first delivery row (its
    `created_at`) to the last "sent" mark, against the floor of 4 bare smtplib processes blasting the same
    pre-built messages to the same Postfix smtp-sink (from the first to the last accepted message).
(b) DKIM: the signed pipeline (`worker --once`, default processes, first to last accepted message) against a
    floor of 4 processes that sign each pre-built message with the same key through `cryptography` (a SHA-256
    body hash and one signature over the header block, the least any DKIM signer does) and then blast it.

Usage: python bench/queue_to_done.py [--subscribers 20000] [--connections 4] [--runs 2] [--dkim rsa,ed25519]
Uses BENCH_DATABASE_URL (PostgreSQL; its public schema is dropped and recreated) and /usr/sbin/smtp-sink.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery import (  # noqa: E402
    BENCH_SECRET_KEY,
    DEFAULT_PG,
    DKIM_SETTINGS,
    _rate,
    _shares,
    enqueue,
    ensure_smtp_sink,
    free_port,
    make_app,
    process_floor,
    reset_schema,
    run_once,
    sample_messages,
    seed,
    start_sink,
)
from sqlalchemy import func, select  # noqa: E402

WAIT_LIMIT_SECONDS = 900  # every wait below is bounded


def _worker_env(database_url: str, port: int, connections: int, instance: Path) -> dict:
    return dict(
        os.environ,
        NEWSLETTER_DATABASE_URL=database_url,
        NEWSLETTER_SMTP_URL=f"smtp://127.0.0.1:{port}",
        NEWSLETTER_SMTP_CONNECTIONS=str(connections),
        NEWSLETTER_SECRET_KEY=BENCH_SECRET_KEY,
        NEWSLETTER_MAIL_FROM="Belarus Weekly <newsletter@belarus.example.org>",
        NEWSLETTER_BASE_URL="https://belarus.example.org",
        NEWSLETTER_INSTANCE_PATH=str(instance),
    )


def _heartbeats(app) -> int:
    from newsletter.core.extensions import db
    from newsletter.models import Heartbeat

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Heartbeat).where(Heartbeat.role == "worker"))
        db.session.remove()
        return int(count or 0)


def _span(app, edition_id: int) -> tuple[int, int, float]:
    """(sent, total, seconds from the first delivery row to the last sent mark)."""
    from newsletter.core.extensions import db
    from newsletter.models import Delivery

    with app.app_context():
        first, last, total = db.session.execute(
            select(func.min(Delivery.created_at), func.max(Delivery.sent_at), func.count()).where(
                Delivery.edition_id == edition_id
            )
        ).one()
        sent = db.session.scalar(
            select(func.count()).where(Delivery.edition_id == edition_id, Delivery.status == "sent")
        )
        db.session.remove()
    seconds = (last - first).total_seconds() if first and last else 0.0
    return int(sent or 0), int(total or 0), seconds


def queue_to_done(args, port: int) -> dict:
    """A running worker, idle, then an edition enqueued: first row to last sent mark."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-q2d-"))
    app = make_app(args.pg_url, port, args.connections, workdir)
    reset_schema(app, args.pg_url)
    seed(app, args.subscribers)
    command = [str(Path(sys.executable).parent / "newsletter"), "worker"]
    env = _worker_env(args.pg_url, port, args.connections, workdir)
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        deadline = time.monotonic() + 120
        while _heartbeats(app) < (os.cpu_count() or 1) and time.monotonic() < deadline:
            time.sleep(0.2)  # every worker process started and beat once: idle and waiting
        time.sleep(2.0)
        edition_id, enqueue_seconds, rows = enqueue(app)
        deadline = time.monotonic() + WAIT_LIMIT_SECONDS
        while time.monotonic() < deadline:
            sent, total, seconds = _span(app, edition_id)
            if sent >= total:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"queue-to-done: only {sent} of {total} sent in {WAIT_LIMIT_SECONDS}s")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    messages = sample_messages(app, edition_id)
    floor = process_floor(port, args.connections, args.subscribers, messages)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"rate": sent / max(seconds, 1e-6), "seconds": seconds, "enqueue_s": enqueue_seconds, "floor": floor}


def _signing_key(algorithm: str):
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign(key, message: bytes) -> bytes:
    """The least a DKIM signer does per message: hash the body, sign the header block with the body hash."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    head, _, body = message.partition(b"\r\n\r\n")
    body_hash = base64.b64encode(hashlib.sha256(body).digest())
    field = b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=belarus.example.org; s=bench; bh=" + body_hash
    data = head + b"\r\n" + field + b"; b="
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(hashlib.sha256(data).digest())
    return field + b"; b=" + base64.b64encode(signature) + b"\r\n" + message


def _sign_and_blast(port: int, count: int, messages: list[bytes], pem: bytes, ready, accepted) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem, password=None)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        ready.wait()
        first = None
        try:
            for index in range(count):
                signed = _sign(key, messages[index % len(messages)])
                smtp.sendmail("bounces@belarus.example.org", [f"reader{index}@example.net"], signed)
                first = first or time.perf_counter()
        finally:
            accepted.put((first or time.perf_counter(), time.perf_counter()))


def signing_floor(port: int, connections: int, total: int, messages: list[bytes], pem: bytes) -> float:
    context = multiprocessing.get_context("fork")
    ready, accepted = context.Barrier(connections), context.Queue()
    workers = [
        context.Process(target=_sign_and_blast, args=(port, count, messages, pem, ready, accepted))
        for count in _shares(total, connections)
    ]
    for worker in workers:
        worker.start()
    spans = [accepted.get(timeout=WAIT_LIMIT_SECONDS) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return _rate(total, spans)


def dkim_against_floor(args, port: int, algorithm: str) -> dict:
    from cryptography.hazmat.primitives import serialization

    key = _signing_key(algorithm)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_dir = Path(tempfile.mkdtemp(prefix="bench-dkim-"))
    (key_dir / "dkim.pem").write_bytes(pem)
    os.environ.update(zip(DKIM_SETTINGS, ("bench", "belarus.example.org", str(key_dir / "dkim.pem")), strict=True))
    try:
        signed = run_once(args, args.subscribers, port, measure_floor=False, processes=os.cpu_count() or 1)
    finally:
        for name in DKIM_SETTINGS:
            os.environ.pop(name, None)
    workdir = Path(tempfile.mkdtemp(prefix="bench-dkim-msgs-"))
    app = make_app(args.pg_url, port, args.connections, workdir)
    edition_id = _any_edition(app)
    messages = sample_messages(app, edition_id)
    floor = signing_floor(port, args.connections, args.subscribers, messages, pem)
    shutil.rmtree(key_dir, ignore_errors=True)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"rate": signed["pipeline_rate"], "floor": floor}


def _any_edition(app) -> int:
    from newsletter.core.extensions import db
    from newsletter.models import Edition

    with app.app_context():
        edition_id = db.session.scalar(select(func.max(Edition.id)))
        db.session.remove()
        return int(edition_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dkim", default="rsa,ed25519", help="comma-separated: rsa, ed25519 (empty: skip)")
    parser.add_argument("--skip-queue", action="store_true", help="only the DKIM part")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    args.db = "postgresql"
    ensure_smtp_sink()
    port = free_port()
    sink = start_sink(port)
    try:
        print(f"== {args.subscribers:,} readers, {args.connections} connections in all, {os.cpu_count()} CPUs ==")
        for run in range(1, args.runs + 1):
            if not args.skip_queue:
                result = queue_to_done(args, port)
                print(
                    f"run {run}: queue-to-done {result['rate']:,.0f} msg/s ({result['seconds']:.1f} s from the first "
                    f"row to the last sent mark; enqueue {result['enqueue_s']:.2f} s); floor {result['floor']:,.0f} "
                    f"msg/s; ratio {result['rate'] / result['floor']:.2f} (target >= 0.9)",
                    flush=True,
                )
            for algorithm in [name for name in args.dkim.split(",") if name]:
                result = dkim_against_floor(args, port, algorithm)
                print(
                    f"run {run}: DKIM {algorithm:<7} pipeline {result['rate']:,.0f} msg/s; signing floor "
                    f"{result['floor']:,.0f} msg/s; ratio {result['rate'] / result['floor']:.2f} (target >= 0.9)",
                    flush=True,
                )
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
