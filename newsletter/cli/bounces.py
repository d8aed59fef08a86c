"""`newsletter bounces serve | process`: bounce and complaint intake by SMTP or from a mailbox."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from newsletter.bounces import mailboxes, rules, smtp_intake
from newsletter.cli.mailbox_options import exactly_one, mailbox_options
from newsletter.cli.readiness import ensure_ready


@click.group("bounces")
def bounces_group() -> None:
    """Take in bounce reports and complaints (DSN, ARF) for the VERP bounce addresses."""


@bounces_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Receive bounces over SMTP (for the bounce domain's MX or a relay's forward) until stopped."""
    ensure_ready()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as the proxied Flask
    server = smtp_intake.make_server(app, host, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        raise click.ClickException(
            _("cannot listen on %(address)s: %(error)s", address=f"{host}:{port}", error=error)
        ) from None
    click.echo(_("Bounce server listening on %(address)s (Ctrl-C to stop)", address=f"{host}:{server.port}"), err=True)
    try:
        stop.wait()
    finally:
        server.stop()


@bounces_group.command("process")
@mailbox_options
@with_appcontext
def process_command(maildir: Path | None, mbox: Path | None) -> None:
    """Handle the bounce reports in a mailbox, each exactly once (safe from cron)."""
    exactly_one(maildir, mbox)
    settings = rules.BounceRules.from_config(current_app.config)
    try:
        if maildir is not None:
            report = mailboxes.process_maildir(maildir, settings)
        else:
            assert mbox is not None, "exactly_one refused neither"
            report = mailboxes.process_mbox(mbox, settings)
    except mailboxes.NotAMailbox as error:
        raise click.ClickException(str(error)) from error
    except SQLAlchemyError as error:
        raise click.ClickException(
            _(
                "the database failed (%(error)s); messages not yet handled stay in the mailbox, and a "
                "second run does not count any report twice",
                error=type(error).__name__,
            )
        ) from None
    for path in report.kept:
        click.echo(_("kept for reading (not applied): %(path)s", path=path), err=True)
    click.echo(
        _(
            "%(applied)d applied, %(duplicate)d duplicate, %(ignored)d ignored, %(unmatched)d unmatched, "
            "%(unrecognised)d unrecognised",
            **{str(outcome): report.outcomes[outcome] for outcome in rules.Outcome},
        )
    )
