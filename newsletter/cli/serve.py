"""`newsletter serve`: web, worker and scheduler in one process, for a single machine."""

from __future__ import annotations

import logging
import signal
import threading
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from newsletter.cli.readiness import ensure_ready, ensure_signing, relay_watch
from newsletter.delivery import worker
from newsletter.delivery.sqlite_lock import WorkerAlreadyRunning
from newsletter.editions.scheduler import start_background_scheduler, stop_background_scheduler
from newsletter.web.access_log import redact_tokens_in_access_log

log = logging.getLogger("newsletter.serve")
RESTART_SECONDS = 5.0


def _deliver_forever(app, stop: threading.Event, relay=None, give_up=None) -> None:
    """The in-process worker; it restarts after an unexpected error instead of dying silently, but a worker
    that cannot work (bad settings) ends `serve` (`give_up`) rather than restarting every few seconds for ever."""
    with app.app_context():
        while not stop.is_set():
            try:
                worker.run(once=False, stop=stop, relay=relay)
            except WorkerAlreadyRunning as error:
                log.error("in-process worker not started: %s", error)
                return
            except worker.WorkerSetupError as error:
                log.error("in-process worker cannot run: %s; stopping", error)
                if give_up is not None:
                    give_up()
                return
            except Exception:
                log.exception("in-process worker stopped by an error; restarting in %.0fs", RESTART_SECONDS)
                stop.wait(RESTART_SECONDS)


def _match_base_url(app, host: str, port: int) -> None:
    """Without NEWSLETTER_BASE_URL, links point at this server; with one that points elsewhere, say so."""
    served = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    if not app.config.get("BASE_URL_EXPLICIT"):
        app.config["BASE_URL"] = served
    elif urlsplit(app.config["BASE_URL"]).netloc != urlsplit(served).netloc:
        click.echo(
            f"Warning: NEWSLETTER_BASE_URL is {app.config['BASE_URL']}, but this server listens on "
            f"{served}; links in emails point to the former (right behind a proxy).",
            err=True,
        )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Serve the site and API (threaded WSGI server), deliver mail and run the scheduler, all in one process."""
    ensure_ready()
    ensure_signing()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxied app, for threads and processes
    redact_tokens_in_access_log()
    server = make_server(host, port, app, threaded=True)
    _match_base_url(app, host, server.server_port)
    stop = threading.Event()
    failed = threading.Event()

    def shut_down(_signum=None, _frame=None):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    def give_up():
        failed.set()
        shut_down()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    relay = relay_watch()
    if relay is not None:
        relay.keep_asking(stop)
    delivery = threading.Thread(target=_deliver_forever, args=(app, stop, relay, give_up), name="worker", daemon=True)
    delivery.start()
    start_background_scheduler(app)
    url = f"http://{host}:{server.server_port}"
    log.info("newsletter serving on %s (worker and scheduler in this process)", url)
    click.echo(f"Newsletter running on {url}/ — subscribe form at {url}/subscribe (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
        stop_background_scheduler()
        delivery.join(timeout=30)
        log.info("newsletter stopped")
    if failed.is_set():
        raise SystemExit(1)
