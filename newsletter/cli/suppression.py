"""`newsletter suppression list [--reason R] [--since T] [--json] | add EMAIL | remove EMAIL |
restore --reason R --since T [--dry-run]`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from newsletter.accounts import activity
from newsletter.core.addresses import InvalidAddress
from newsletter.core.settings import settings_of
from newsletter.subscribers import suppression


@click.group("suppression")
def suppression_group() -> None:
    """The addresses never mailed again (hard bounces, complaints, manual entries)."""


def _since(value: datetime | None) -> datetime | None:
    """A time given on the command line is UTC unless it says otherwise."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


SINCE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])


@suppression_group.command("list")
@click.option("--reason", default=None, help="Only entries whose reason contains this text (any case).")
@click.option("--since", type=SINCE, default=None, help="Only entries made at or after this time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@with_appcontext
def list_command(reason: str | None, since: datetime | None, as_json: bool) -> None:
    """Every entry with its cause, reason, time and delivery; erased people's entries show no address."""
    rows = [suppression.entry_json(entry) for entry in suppression.entries(reason, _since(since))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            "\t".join(
                [
                    row["created_at"][:19],
                    row["email"] or _("(erased)"),
                    row["cause"],
                    str(row["delivery_id"] or "-"),
                    row["reason"],
                ]
            )
        )
    click.echo(ngettext("%(num)d address suppressed", "%(num)d addresses suppressed", len(rows)), err=True)


@suppression_group.command("add")
@click.argument("email")
@click.option("--reason", default="", help="Why (kept with the entry).")
@with_appcontext
def add_command(email: str, reason: str) -> None:
    """Never mail EMAIL again."""
    try:
        settings = settings_of(current_app)
        added = suppression.add(email, reason, settings.site.secret_key, smtp_utf8=settings.mail.smtp_utf8)
    except InvalidAddress as error:
        raise click.ClickException(str(error)) from None
    click.echo(_("added") if added else _("already suppressed"))


@suppression_group.command("remove")
@click.argument("email")
@with_appcontext
def remove_command(email: str) -> None:
    """Take EMAIL off the list (it will be mailed again if subscribed)."""
    try:
        settings = settings_of(current_app)
        suppression.remove(email, settings.site.secret_key, smtp_utf8=settings.mail.smtp_utf8)
    except InvalidAddress as error:
        raise click.ClickException(str(error)) from None
    except suppression.NotSuppressed:
        raise click.ClickException(_("This address is not on the suppression list.")) from None
    click.echo(_("removed"))


@suppression_group.command("restore")
@click.option("--reason", required=True, help="Text the entries' reason contains (e.g. 5.7.1 or blocked).")
@click.option("--since", type=SINCE, required=True, help="Only entries made at or after this time (UTC).")
@click.option("--dry-run", is_flag=True, help="Only list the addresses that would be given back.")
@with_appcontext
def restore_command(reason: str, since: datetime, dry_run: bool) -> None:
    """Give back the readers a wrong wave of bounces suppressed (never complaints, manual or erased entries)."""
    if not reason.strip():
        raise click.BadParameter(_("give the text the wave's reasons contain"), param_hint="--reason")
    since = _since(since) or since  # --since is required: never None here
    if dry_run:
        addresses = [entry.email or "" for entry in suppression.wave(reason, since)]
    else:
        addresses = suppression.restore(reason, since)
        activity.record(
            activity.cli_actor(),
            "suppression_restore",
            ngettext("%(num)d address", "%(num)d addresses", len(addresses)),
            f"reason contains {reason!r}, since {since.isoformat()}",
        )
    for address in addresses:
        click.echo(address)
    message = (
        ngettext("%(num)d address would be given back", "%(num)d addresses would be given back", len(addresses))
        if dry_run
        else ngettext("%(num)d address given back", "%(num)d addresses given back", len(addresses))
    )
    click.echo(message, err=True)
