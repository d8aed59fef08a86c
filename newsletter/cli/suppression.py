"""`newsletter suppression list [--json] | add EMAIL | remove EMAIL`."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from newsletter.core.addresses import InvalidAddress
from newsletter.core.settings import settings_of
from newsletter.subscribers import suppression


@click.group("suppression")
def suppression_group() -> None:
    """The addresses never mailed again (hard bounces, complaints, manual entries)."""


@suppression_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """Every entry with its cause, reason, time and delivery; erased people's entries show no address."""
    rows = [suppression.entry_json(entry) for entry in suppression.entries()]
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
