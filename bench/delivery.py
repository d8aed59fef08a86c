"""Delivery benchmark: the real worker against Postfix's smtp-sink, next to a minimal smtplib floor.

Usage: python bench/delivery.py [--db sqlite|postgresql] [--subscribers 20000] [--connections 4] [--scale 10]
                                [--dkim rsa|ed25519|both]
Needs /usr/sbin/smtp-sink (Debian package `postfix`); if it is missing the benchmark installs the package
with apt-get, debconf answer "No configuration", and never starts the Postfix daemon.
On PostgreSQL it uses BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bench) and
drops and recreates that database's public schema.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

SINK = "/usr/sbin/smtp-sink"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
BENCH_SECRET_KEY = "bench-secret-key-of-at-least-32-bytes"


def ensure_smtp_sink() -> None:
    if Path(SINK).exists():
        return
    print("smtp-sink missing: installing Debian's postfix package (no configuration, daemon not started)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    answer = "postfix postfix/main_mailer_type select No configuration\n"
    subprocess.run(["debconf-set-selections"], input=answer.encode(), check=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "postfix"], env=env, check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen([SINK, "-u", "nobody", f"127.0.0.1:{port}", "1000"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise SystemExit("smtp-sink did not start")


def digest_html(articles: int = 20) -> tuple[str, str]:
    """A rendered digest of realistic size (~33 KB as a message): table layout, inline styles, no images."""
    row = (
        '<tr><td style="padding:12px 24px;font-family:Helvetica,Arial,sans-serif;color:#1f2933;'
        'background-color:#ffffff"><h3 style="margin:0 0 6px;font-size:18px;line-height:24px;color:#102a43">'
        '{title}</h3><p style="margin:0 0 8px;font-size:15px;line-height:22px;color:#334e68">{summary}</p>'
        '<a href="https://belarus.example.org/analytics/{n}-weekly-commentary" style="color:#0b69a3;'
        'text-decoration:underline;font-size:15px">Read more</a></td></tr>\n'
    )
    summary = (
        "The government announced a new programme of import substitution while negotiations with Moscow on "
        "the integration roadmaps continued; analysts see limited room for manoeuvre before the referendum. "
        "Минск и Москва обсуждают новые дорожные карты интеграции. "
    )
    body = "".join(
        row.format(title=f"Commentary {n}: Belarus-Russia relations", summary=summary, n=n) for n in range(articles)
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark">'
        "<title>Belarus Weekly</title><style>@media (prefers-color-scheme: dark){body{background:#111!important}}"
        "@media only screen and (max-width:480px){table.body{width:100%!important}}</style></head>"
        '<body style="margin:0;padding:0;background-color:#f0f4f8"><table class="body" role="presentation" '
        'width="600" align="center" cellpadding="0" cellspacing="0">'
        + body
        + '<tr><td style="padding:24px;font-size:12px;color:#627d98">You receive this because you subscribed. '
        '<a href="__PREFERENCES_URL__">Preferences</a> · <a href="__UNSUBSCRIBE_URL__">Unsubscribe</a></td></tr>'
        "</table></body></html>"
    )
    text_body = "".join(
        f"Commentary {n}\n{summary}\nhttps://belarus.example.org/analytics/{n}\n\n" for n in range(articles)
    )
    footer = "Preferences: __PREFERENCES_URL__\nUnsubscribe: __UNSUBSCRIBE_URL__\n"
    text_part = "Belarus Weekly\n\n" + text_body + footer
    return html, text_part


def make_app(database_url: str, smtp_port: int, connections: int, instance: Path):
    from newsletter import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": BENCH_SECRET_KEY,
            "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "SMTP_CONNECTIONS": connections,
            "MAIL_FROM": "Belarus Weekly <newsletter@belarus.example.org>",
            "BASE_URL": "https://belarus.example.org",
        }
    )


def reset_schema(app, database_url: str) -> None:
    from flask_migrate import stamp

    from newsletter.core.extensions import db

    if database_url.startswith("postgresql"):
        ensure_database(database_url)
    with app.app_context():
        if database_url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        db.create_all()
        stamp()  # the models' schema is the migrations' head: the worker checks that before it starts


def ensure_database(database_url: str) -> None:
    """Create the benchmark's PostgreSQL database if it is missing (connecting to `postgres` to do so)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def seed(app, count: int) -> None:
    """N confirmed subscribers of en, inserted set-based."""
    from newsletter.core.extensions import db

    with app.app_context():
        now = "2026-01-01 00:00:00"
        if db.engine.dialect.name == "postgresql":
            series = f"SELECT g AS n FROM generate_series(1, {count}) AS g"
        else:
            series = (
                f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s"
            )
        db.session.execute(
            text(
                "INSERT INTO subscribers (email, status, locale, created_at, confirmed_at) "
                f"SELECT 'reader' || n || '@example.net', 'confirmed', 'en', '{now}', '{now}' "
                f"FROM ({series}) AS numbers"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO subscriber_languages (subscriber_id, language, requested_at, confirmed_at) "
                f"SELECT id, 'en', '{now}', '{now}' FROM subscribers"
            )
        )
        db.session.commit()
        settle_after_bulk_load()


def settle_after_bulk_load() -> None:
    """VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite), as autovacuum soon does after a bulk load."""
    from newsletter.core.extensions import db

    command = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(command))


def enqueue(app) -> tuple[int, float, int]:
    """Create the edition and time enqueue_edition; returns (edition id, seconds, rows)."""
    from newsletter.core.extensions import db
    from newsletter.delivery.ledger import enqueue_edition
    from newsletter.models import Edition

    html, text_part = digest_html()
    with app.app_context():
        edition = Edition(
            week_start=date(2022, 1, 10),
            language="en",
            subject="Belarus Weekly: 10–16 January 2022",
            html=html,
            text=text_part,
            status="draft",
        )
        db.session.add(edition)
        db.session.commit()
        started = time.perf_counter()
        rows = enqueue_edition(edition)
        return edition.id, time.perf_counter() - started, rows


def drain(database_url: str, port: int, connections: int, instance: Path, processes: int = 1) -> tuple[float, int]:
    """Run `newsletter worker --once --processes K` as its own process; returns (wall seconds, peak RSS in KiB
    of the largest worker process)."""
    env = dict(
        os.environ,
        NEWSLETTER_DATABASE_URL=database_url,
        NEWSLETTER_SMTP_URL=f"smtp://127.0.0.1:{port}",
        NEWSLETTER_WORKER_PROCESSES=str(processes),
        NEWSLETTER_SMTP_CONNECTIONS=str(connections),
        NEWSLETTER_SECRET_KEY=BENCH_SECRET_KEY,
        NEWSLETTER_MAIL_FROM="Belarus Weekly <newsletter@belarus.example.org>",
        NEWSLETTER_BASE_URL="https://belarus.example.org",
        NEWSLETTER_INSTANCE_PATH=str(instance),
    )
    command = [str(Path(sys.executable).parent / "newsletter"), "worker", "--once"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=instance)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"the worker exited with {process.returncode}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if processes > 1 else 0
    return elapsed, max(usage.ru_maxrss, children)


def pipeline_rate(app, edition_id: int) -> tuple[float, int]:
    """Messages per second between the first and the last accepted message, from the ledger itself."""
    from newsletter.core.extensions import db
    from newsletter.models import Delivery

    with app.app_context():
        first, last, sent = db.session.execute(
            select(func.min(Delivery.sent_at), func.max(Delivery.sent_at), func.count()).where(
                Delivery.edition_id == edition_id, Delivery.status == "sent"
            )
        ).one()
        return sent / max((last - first).total_seconds(), 1e-6), sent


def sample_messages(app, edition_id: int, count: int = 64) -> list[bytes]:
    from newsletter.core.extensions import db
    from newsletter.core.settings import settings_of
    from newsletter.core.tokens import LinkSigner
    from newsletter.delivery.digest import DigestTemplate, build_digest_message
    from newsletter.models import Edition

    settings = settings_of(app)
    signer = LinkSigner(settings)
    with app.app_context():
        template = DigestTemplate(db.session.get(Edition, edition_id), settings)
        return [build_digest_message(template, n, f"reader{n}@example.net", signer) for n in range(1, count + 1)]


def _plain(smtp: smtplib.SMTP, recipient: str, message: bytes) -> None:
    smtp.sendmail("bounces@belarus.example.org", [recipient], message)


def _pipelined(smtp: smtplib.SMTP, recipient: str, message: bytes) -> None:
    """MAIL, RCPT and DATA in one write, then the content (two round trips), as the worker sends a message
    whose envelope could not go ahead with the previous one's content."""
    from newsletter.delivery.pipelining import Envelope, pipelined_send

    pipelined_send(smtp, Envelope("bounces@belarus.example.org", recipient), message)


def _shares(total: int, connections: int) -> list[int]:
    return [total // connections + (1 if index < total % connections else 0) for index in range(connections)]


def _blast(port: int, count: int, messages: list[bytes], send, ready, accepted) -> None:
    """One connection's loop: open it, wait for the others, send `count` messages; report (first, last)."""
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        ready.wait()
        first = None
        try:
            for index in range(count):
                send(smtp, f"reader{index}@example.net", messages[index % len(messages)])
                first = first or time.perf_counter()
        finally:  # a failed blast must not leave the floor waiting
            accepted.put((first or time.perf_counter(), time.perf_counter()))


def _rate(total: int, spans: list[tuple[float, float]]) -> float:
    return total / max(max(end for _s, end in spans) - min(start for start, _e in spans), 1e-6)


def floor(port: int, connections: int, total: int, messages: list[bytes], send=_plain) -> float:
    """Pre-built messages over the same connections in a bare loop in threads, timed like the pipeline: from
    the first to the last accepted message, connection set-up excluded."""
    ready, accepted = threading.Barrier(connections), queue.Queue()
    threads = [
        threading.Thread(target=_blast, args=(port, count, messages, send, ready, accepted))
        for count in _shares(total, connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _rate(total, [accepted.get() for _ in threads])


def process_floor(port: int, connections: int, total: int, messages: list[bytes]) -> float:
    """The issue's floor: one bare smtplib process per connection (threads would share one GIL and make the
    floor weaker than the wire), timed from the first to the last accepted message."""
    context = multiprocessing.get_context("fork")
    ready, accepted = context.Barrier(connections), context.Queue()
    workers = [
        context.Process(target=_blast, args=(port, count, messages, _plain, ready, accepted))
        for count in _shares(total, connections)
    ]
    for worker in workers:
        worker.start()
    spans = [accepted.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return _rate(total, spans)


def add_old_ledger(app, rows: int) -> float:
    """A ledger that has lived: `rows` settled rows of 100 past editions, each in its own partition as a send
    leaves them, and a tenth of them deferred rows of a paused edition due tomorrow (ahead of nothing, but in
    the way of any claim that scans). PostgreSQL only."""
    from newsletter.core.extensions import db
    from newsletter.delivery.partitions import id_range, partition_name

    started = time.perf_counter()
    with app.app_context(), db.engine.begin() as connection:
        editions = connection.execute(
            text(
                "INSERT INTO editions (week_start, language, status, subject, html, text, source_hash, article_count,"
                " built_at, sent_at) SELECT DATE '2020-01-06' + 7 * n, 'ru', CASE WHEN n = 0 THEN 'paused' ELSE 'sent'"
                " END, 'old', '', '', '', 0, now(), now() FROM generate_series(0, 99) AS n RETURNING id, status"
            )
        ).all()
        for edition_id, status in editions:
            name, (low, high) = partition_name(edition_id), id_range(edition_id)
            connection.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF deliveries (UNIQUE (subscriber_id, edition_id))"
                    f" FOR VALUES FROM ({low}) TO ({high})"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO deliveries (id, kind, priority, edition_id, subscriber_id, status, attempts,"
                    " next_attempt_at, created_at, sent_at, last_reply) SELECT :low + n, 'digest', 10, :edition, NULL,"
                    " CASE WHEN :paused THEN 'queued' WHEN n % 50 = 0 THEN 'failed' ELSE 'sent' END, 1,"
                    " CASE WHEN :paused THEN now() + interval '1 day' ELSE now() END, now(), now(), '250 ok'"
                    " FROM generate_series(1, :rows) AS n"
                ),
                {"low": low, "edition": edition_id, "paused": status == "paused", "rows": rows // len(editions)},
            )
    with app.app_context():
        settle_after_bulk_load()
    return time.perf_counter() - started


def run_once(args, subscribers: int, port: int, measure_floor: bool, processes: int = 1, old_ledger: int = 0) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    database_url = args.pg_url if args.db == "postgresql" else f"sqlite:///{workdir / 'bench.db'}"
    app = make_app(database_url, port, args.connections, workdir)
    reset_schema(app, database_url)
    seed(app, subscribers)
    if old_ledger:
        add_old_ledger(app, old_ledger)
    edition_id, enqueue_seconds, rows = enqueue(app)
    wall, peak_kib = drain(database_url, port, args.connections, workdir, processes)
    rate, sent = pipeline_rate(app, edition_id)
    result = {
        "subscribers": subscribers,
        "enqueue_s": enqueue_seconds,
        "rows": rows,
        "sent": sent,
        "pipeline_rate": rate,
        "drain_wall_s": wall,
        "worker_peak_mib": peak_kib / 1024,
    }
    if measure_floor:
        messages = sample_messages(app, edition_id)
        result["message_kib"] = sum(map(len, messages)) / len(messages) / 1024
        result["floor_rate"] = floor(port, args.connections, subscribers, messages)
        result["process_floor_rate"] = process_floor(port, args.connections, subscribers, messages)
        result["pipelined_floor_rate"] = floor(port, args.connections, subscribers, messages, send=_pipelined)
    shutil.rmtree(workdir, ignore_errors=True)
    return result


DKIM_SETTINGS = ("NEWSLETTER_DKIM_SELECTOR", "NEWSLETTER_DKIM_DOMAIN", "NEWSLETTER_DKIM_PRIVATE_KEY_PATH")


def dkim_pass(args, port: int, unsigned: dict[int, float], algorithm: str) -> None:
    """The same runs with every message DKIM-signed by the worker (a fresh key), against the unsigned rates
    (`unsigned`: processes -> msg/s), with one worker process and with the configured count."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key = (
        ed25519.Ed25519PrivateKey.generate()
        if algorithm == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    key_dir = Path(tempfile.mkdtemp(prefix="bench-dkim-"))
    (key_dir / "dkim.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.environ.update(zip(DKIM_SETTINGS, ("bench", "belarus.example.org", str(key_dir / "dkim.pem")), strict=True))
    try:
        for processes, unsigned_rate in unsigned.items():
            signed = run_once(args, args.subscribers, port, measure_floor=False, processes=processes)
            print(
                f"DKIM {algorithm:<8} on, {processes} process{'es' if processes > 1 else '  '} "
                f"{signed['pipeline_rate']:,.0f} msg/s  ({signed['pipeline_rate'] / unsigned_rate:.2f} × DKIM off; "
                f"target >= 0.8)"
            )
    finally:
        for name in DKIM_SETTINGS:
            os.environ.pop(name, None)
        shutil.rmtree(key_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--scale", type=int, default=10, help="also measure enqueue and memory at N × scale (0: skip)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--dkim", choices=["rsa", "ed25519", "both"], help="also run with DKIM signing on")
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="also run the worker as this many processes (PostgreSQL)",
    )
    parser.add_argument(
        "--old-ledger",
        type=int,
        default=0,
        metavar="ROWS",
        help="also run with this many old rows already in the ledger (PostgreSQL), e.g. 2000000",
    )
    args = parser.parse_args()
    ensure_smtp_sink()
    port = free_port()
    sink = start_sink(port)
    try:
        base = run_once(args, args.subscribers, port, measure_floor=True)
        floor_rate = base["process_floor_rate"]
        print(f"\n== delivery benchmark on {args.db}, {args.connections} SMTP connections in all ==")
        print(f"message size             {base['message_kib']:.1f} KiB")
        print(f"enqueue {base['rows']:>8,} rows      {base['enqueue_s']:.2f} s")
        print(f"floor ({args.connections} smtplib processes) {floor_rate:,.0f} msg/s   <- the floor the ratios use")
        print(f"floor (threads, smtplib) {base['floor_rate']:,.0f} msg/s")
        print(f"floor (threads, pipelined) {base['pipelined_floor_rate']:,.0f} msg/s")
        print(
            f"pipeline, 1 process      {base['pipeline_rate']:,.0f} msg/s  ({base['pipeline_rate'] / floor_rate:.2f} "
            f"x floor; {base['sent']:,} sent, {base['drain_wall_s']:.1f} s wall incl. start-up; "
            f"peak memory {base['worker_peak_mib']:.0f} MiB)"
        )
        best = base["pipeline_rate"]
        unsigned = {1: base["pipeline_rate"]}
        if args.db == "postgresql" and args.processes > 1:
            many = run_once(args, args.subscribers, port, measure_floor=False, processes=args.processes)
            best = max(best, many["pipeline_rate"])
            unsigned[args.processes] = many["pipeline_rate"]
            print(
                f"pipeline, {args.processes} processes    {many['pipeline_rate']:,.0f} msg/s  "
                f"({many['pipeline_rate'] / floor_rate:.2f} x floor; target >= 0.9; "
                f"peak memory per process {many['worker_peak_mib']:.0f} MiB)"
            )
        if args.db == "postgresql" and args.old_ledger:
            aged = run_once(
                args, args.subscribers, port, measure_floor=False, processes=args.processes, old_ledger=args.old_ledger
            )
            print(
                f"with {args.old_ledger:,} old rows     {aged['pipeline_rate']:,.0f} msg/s  "
                f"({aged['pipeline_rate'] / best:.2f} x fresh; target >= 0.9); enqueue {aged['enqueue_s']:.2f} s"
            )
        for algorithm in ["rsa", "ed25519"] if args.dkim == "both" else [args.dkim] if args.dkim else []:
            dkim_pass(args, port, unsigned, algorithm)
        if args.scale > 1:
            big = run_once(args, args.subscribers * args.scale, port, measure_floor=False)
            print(
                f"at {args.scale}x N: enqueue {big['rows']:,} rows in {big['enqueue_s']:.2f} s; "
                f"pipeline {big['pipeline_rate']:,.0f} msg/s; worker peak memory {big['worker_peak_mib']:.0f} MiB"
            )
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
