"""`newsletter editions`: build, list, preview, send, schedule and cancel the weekly editions."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from .. import archive
from .. import editions as service
from ..config import LANGUAGES
from ..delivery import ledger
from ..weeks import BadWeek, parse_week

editions_group = AppGroup("editions", help="The weekly per-language editions.")


def _edition(edition_id: int):
    edition = service.get_edition(edition_id)
    if edition is None:
        raise click.ClickException(f"no edition with id {edition_id}")
    return edition


def _week(_ctx, _param, value: str):
    try:
        return parse_week(value)
    except BadWeek as error:
        raise click.BadParameter("must be a date, YYYY-MM-DD, in the years 1900 to 2999") from error


@editions_group.command("build")
@click.option("--week", required=True, callback=_week, help="Any date of the week (YYYY-MM-DD).")
@click.option("--language", type=click.Choice(LANGUAGES), multiple=True, help="Only these languages.")
def build_command(week, language: tuple[str, ...]) -> None:
    """Build (idempotently) the editions of a week; languages without articles get none."""
    built = service.build_week(week, list(language) or None)
    if not built:
        click.echo(f"No articles in the week of {week.isoformat()}; no edition built.")
    for edition in built:
        click.echo(f"{edition.id}\t{edition.week_start}\t{edition.language}\t{edition.status}\t"
                   f"{edition.article_count} articles")


def _row(edition) -> dict:
    return {
        "id": edition.id, "week_start": edition.week_start.isoformat(), "language": edition.language,
        "status": edition.status, "articles": edition.article_count,
        "scheduled_for": edition.scheduled_for.isoformat() if edition.scheduled_for else None,
        "counts": ledger.edition_counts(edition.id),
    }


@editions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """List editions with id, week, language, status and counts."""
    rows = [_row(edition) for edition in service.list_editions()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        counts = " ".join(f"{k}={v}" for k, v in row["counts"].items() if v is not None)
        click.echo(f"{row['id']}\t{row['week_start']}\t{row['language']}\t{row['status']}\t{counts}")


@editions_group.command("preview")
@click.argument("edition_id", type=int)
@click.option("--html", "as_html", is_flag=True, help="Print the HTML instead of the text part.")
def preview_command(edition_id: int, as_html: bool) -> None:
    """Print an edition's subject and text (or HTML), without personal links."""
    edition = _edition(edition_id)
    if as_html:
        click.echo(archive.public_html(edition))
        return
    click.echo(f"Subject: {edition.subject}\n")
    click.echo(archive.public_text(edition))


@editions_group.command("send")
@click.argument("edition_id", type=int)
def send_command(edition_id: int) -> None:
    """Enqueue an edition for every confirmed subscriber of its language."""
    edition = _edition(edition_id)
    try:
        queued = service.send_edition(edition)
    except ledger.SendConflict as error:
        raise click.ClickException(f"not sent: {error}") from error
    click.echo(f"Edition {edition_id} is sending: {queued} deliveries queued.")


@editions_group.command("schedule")
@click.argument("edition_id", type=int)
@click.option("--at", "when", required=True,
              help="ISO date and time, e.g. 2026-12-07T09:00 (publication time zone unless an offset is given).")
def schedule_command(edition_id: int, when: str) -> None:
    """Send an edition automatically at a given time."""
    try:
        moment = service.parse_send_time(when)
    except service.BadSendTime as error:
        raise click.BadParameter("must be an ISO date and time, e.g. 2026-12-07T09:00", param_hint="--at") from error
    try:
        edition = service.schedule_edition(_edition(edition_id), moment)
    except service.EditionConflict as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Edition {edition_id} scheduled for {edition.scheduled_for.isoformat()}.")


@editions_group.command("cancel")
@click.argument("edition_id", type=int)
def cancel_command(edition_id: int) -> None:
    """Cancel an edition that has not been sent."""
    try:
        service.cancel_edition(_edition(edition_id))
    except service.EditionConflict as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Edition {edition_id} cancelled.")
