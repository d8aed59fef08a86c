"""`newsletter subscribers import | export | purge-pending | unsubscribe-mail`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from newsletter.cli.mailbox_options import exactly_one, mailbox_options
from newsletter.core.mail_folders import NotAMailbox
from newsletter.core.settings import settings_of
from newsletter.subscribers import import_export as subscriber_io
from newsletter.subscribers import subscriptions, unsubscribe_mail


@click.group("subscribers")
def subscribers_group() -> None:
    """Import, export and tidy the subscriber list."""


@subscribers_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Exit with status 1 when any row was rejected.")
@with_appcontext
def import_command(csv_file: Path, strict: bool) -> None:
    """Import FILE.csv (email,languages[,confirmed_at]) as confirmed subscribers; safe to run twice."""
    try:
        with csv_file.open(newline="", encoding="utf-8-sig") as stream:
            report = subscriber_io.import_csv(stream, csv_file.name, settings_of(current_app))
    except subscriber_io.ImportFormatError as error:
        raise click.ClickException(str(error)) from error
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{csv_file.name} is not UTF-8 text ({error.reason})") from error
    for line, message in report.errors:
        click.echo(f"line {line}: rejected: {message}", err=True)
    for line, message in report.skipped:
        click.echo(f"line {line}: skipped: {message}", err=True)
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped, {len(report.errors)} rejected"
    )
    if strict and report.errors:
        sys.exit(1)


@subscribers_group.command("export")
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-", help="File (default: stdout)."
)
@click.option("--all", "include_all", is_flag=True, help="Also pending and unsubscribed ones, with a status column.")
@with_appcontext
def export_command(output, include_all: bool) -> None:
    """Write the subscribers as CSV in the import format (confirmed ones unless --all)."""
    count = subscriber_io.write_csv(output, include_all)
    click.echo(f"{count} subscribers exported", err=True)


@subscribers_group.command("purge-pending")
@with_appcontext
def purge_pending_command() -> None:
    """Delete subscription requests not confirmed within the confirmation window."""
    result = subscriptions.purge_pending(settings_of(current_app).privacy.confirm_max_age)
    click.echo(
        f"{result.subscribers} unconfirmed subscribers, {result.languages} unconfirmed languages "
        f"and {result.consents} unconfirmed consent records deleted"
    )


@subscribers_group.command("unsubscribe-mail")
@mailbox_options
@with_appcontext
def unsubscribe_mail_command(maildir: Path | None, mbox: Path | None) -> None:
    """Unsubscribe by the mailto: List-Unsubscribe requests (a token in the Subject or body)."""
    exactly_one(maildir, mbox)
    try:
        secret = settings_of(current_app).site.secret_key
        if maildir:
            report = unsubscribe_mail.process_maildir(maildir, secret)
        elif mbox:
            report = unsubscribe_mail.process_mbox(mbox, secret)
    except NotAMailbox as error:
        raise click.ClickException(str(error)) from error
    for name in report.without_token:
        click.echo(f"message {name}: no valid unsubscribe token; ignored", err=True)
    click.echo(
        f"{report.unsubscribed} unsubscribed, {report.already_unsubscribed} already unsubscribed, "
        f"{len(report.without_token)} without a valid token"
    )
