"""`newsletter editions`: build, list, edit, preview, send, schedule, unschedule, cancel, reopen, unpublish.

Every command calls the editions service; its domain errors become one-line CLI errors here.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import wraps

import click
from flask import current_app
from flask.cli import AppGroup

from newsletter import editions as service
from newsletter.content.weeks import BadWeek, parse_week
from newsletter.core.config import LANGUAGES
from newsletter.delivery import ledger
from newsletter.editions.control import status_summary
from newsletter.editions.rendering import clip_warning, compact_notice

editions_group = AppGroup("editions", help="The weekly per-language editions.")


def _edition(edition_id: int):
    edition = service.get_edition(edition_id)
    if edition is None:
        raise click.ClickException(f"no edition with id {edition_id}")
    return edition


def domain_errors(command):
    """Turn the editions service's domain errors into a clear one-line CLI error (exit 1)."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except service.EditionInvalid as error:
            raise click.ClickException("; ".join(f"{k}: {v}" for k, v in error.errors.items())) from None
        except (service.EditionConflict, service.BuildFailed) as error:
            raise click.ClickException(str(error)) from None

    return run


def _week(_ctx, _param, value: str):
    try:
        return parse_week(value)
    except BadWeek as error:
        raise click.BadParameter("must be a date, YYYY-MM-DD, in the years 1900 to 2999") from error


def _warn_size(edition) -> None:
    for warning in (clip_warning(edition.html or ""), compact_notice(edition.contents)):
        if warning:
            click.echo(f"warning: edition {edition.id} ({edition.language}): {warning}", err=True)


@editions_group.command("build")
@click.option("--week", required=True, callback=_week, help="Any date of the week (YYYY-MM-DD).")
@click.option("--language", type=click.Choice(LANGUAGES), multiple=True, help="Only these languages.")
def build_command(week, language: tuple[str, ...]) -> None:
    """Build (idempotently) the editions of a week; languages without articles get none."""
    built = service.build_week_report(week, list(language) or None)
    if not built.editions and not built.failures:
        click.echo(f"No articles in the week of {week.isoformat()}; no edition built.")
    for edition in built.editions:
        click.echo(
            f"{edition.id}\t{edition.week_start}\t{edition.language}\t{edition.status}\t"
            f"{edition.article_count} articles"
        )
        _warn_size(edition)
    for failure in built.failures.values():
        click.echo(f"error: {failure}", err=True)
    if built.failures:
        raise SystemExit(1)


def _row(edition, grace: timedelta) -> dict:
    row = {
        "id": edition.id,
        "week_start": edition.week_start.isoformat(),
        "language": edition.language,
        "status": edition.status,
        "articles": edition.article_count,
        "stale": service.is_stale(edition),
        "overdue": service.is_overdue(edition, grace),
        "scheduled_for": service.shown_time(edition.scheduled_for),
        "warnings": [w for w in [clip_warning(edition.html or "")] if w],
        "counts": ledger.edition_counts(edition.id),
    }
    row["status_summary"] = status_summary(edition.status, int(row["counts"].get("failed") or 0))
    return row


@editions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """List editions with id, week, language, status and counts (stale, overdue and size warnings too)."""
    grace = timedelta(seconds=float(current_app.config["SCHEDULE_GRACE_SECONDS"]))
    rows = [_row(edition, grace) for edition in service.list_editions()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        counts = " ".join(f"{k}={v}" for k, v in row["counts"].items() if v is not None)
        marks = "".join(f"\t{mark}" for mark in ("stale", "overdue") if row[mark])
        when = f"\tat {row['scheduled_for']}" if row["scheduled_for"] else ""
        click.echo(
            f"{row['id']}\t{row['week_start']}\t{row['language']}\t{row['status_summary']}{when}{marks}\t{counts}"
        )


@editions_group.command("preview")
@click.argument("edition_id", type=int)
@click.option("--html", "as_html", is_flag=True, help="Print the HTML instead of the text part.")
@domain_errors
def preview_command(edition_id: int, as_html: bool) -> None:
    """Print an edition's subject and text (or HTML), without personal links (rebuilt first if stale)."""
    edition = _edition(edition_id)
    if as_html:
        click.echo(service.preview_html(edition))
        return
    text = service.preview_text(edition)
    click.echo(f"Subject: {edition.subject}\n")
    click.echo(text)


@editions_group.command("send")
@click.argument("edition_id", type=int)
@domain_errors
def send_command(edition_id: int) -> None:
    """Enqueue an edition for every confirmed subscriber of its language (rebuilt first if stale)."""
    edition = _edition(edition_id)
    try:
        queued = service.send_edition(edition)
    except service.EditionConflict as error:
        raise click.ClickException(f"not sent: {error}") from None
    click.echo(f"Edition {edition_id} is sending: {queued} deliveries queued.")


@editions_group.command("schedule")
@click.argument("edition_id", type=int)
@click.option(
    "--at",
    "when",
    required=True,
    help="ISO date and time, e.g. 2026-12-07T09:00 (publication time zone unless an offset or a zone "
    "name such as 'Europe/Warsaw' follows). Must be in the future.",
)
@domain_errors
def schedule_command(edition_id: int, when: str) -> None:
    """Send an edition automatically at a given time."""
    try:
        moment = service.parse_send_time(when)
    except service.BadSendTime as error:
        raise click.BadParameter(error.message, param_hint="--at") from None
    edition = service.schedule_edition(_edition(edition_id), moment)
    click.echo(f"Edition {edition_id} scheduled for {service.shown_time(edition.scheduled_for)}.")


@editions_group.command("unschedule")
@click.argument("edition_id", type=int)
@domain_errors
def unschedule_command(edition_id: int) -> None:
    """Return a scheduled edition to draft."""
    service.unschedule_edition(_edition(edition_id))
    click.echo(f"Edition {edition_id} is a draft again.")


@editions_group.command("cancel")
@click.argument("edition_id", type=int)
@domain_errors
def cancel_command(edition_id: int) -> None:
    """Cancel an edition that has not been sent (reopen brings it back while nothing was delivered)."""
    service.cancel_edition(_edition(edition_id))
    click.echo(f"Edition {edition_id} cancelled.")


@editions_group.command("reopen")
@click.argument("edition_id", type=int)
@domain_errors
def reopen_command(edition_id: int) -> None:
    """Return a cancelled edition with no deliveries to draft."""
    service.reopen_edition(_edition(edition_id))
    click.echo(f"Edition {edition_id} is a draft again.")


@editions_group.command("unpublish")
@click.argument("edition_id", type=int)
@click.option("--undo", is_flag=True, help="Put it back in the archive.")
def unpublish_command(edition_id: int, undo: bool) -> None:
    """Take an edition off the public archive."""
    service.set_published(_edition(edition_id), undo)
    click.echo(f"Edition {edition_id} is {'back in' if undo else 'off'} the public archive.")


@editions_group.command("edit")
@click.argument("edition_id", type=int)
@click.option("--subject", help="Subject line ('' for the default).")
@click.option("--preheader", help="Preview text shown by mail clients ('' for the default).")
@click.option("--intro", help="Editor's note: plain text, blank lines between paragraphs ('' for none).")
@click.option("--intro-file", type=click.File("r", encoding="utf-8"), help="Read the editor's note from a file.")
@click.option("--lead", "lead", type=int, help="Id of the article shown first and larger (0 for none).")
@click.option("--order", help="Comma-separated article ids: the included articles in reading order.")
@click.option("--exclude", help="Comma-separated article ids left out of this edition ('' for none).")
@domain_errors
def edit_command(edition_id: int, intro_file, **options) -> None:
    """Shape one edition: subject, preheader, intro, lead article, order and exclusions."""
    changes = _edit_changes(options, intro_file)
    if not changes:
        raise click.UsageError("give at least one of --subject, --preheader, --intro, --lead, --order, --exclude")
    edition = service.update_editorial(_edition(edition_id), changes)
    stale = " (stale until rebuilt: preview or send rebuilds it)" if service.is_stale(edition) else ""
    click.echo(f"Edition {edition_id} updated{stale}.")


def _ids(value: str, name: str) -> list[int]:
    try:
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter("must be comma-separated article ids", param_hint=name) from None


def _edit_changes(options: dict, intro_file) -> dict:
    changes: dict = {}
    for name in ("subject", "preheader", "intro"):
        if options[name] is not None:
            changes[name] = options[name] or None
    if intro_file is not None:
        changes["intro"] = intro_file.read() or None
    if options["lead"] is not None:
        changes["lead_article_id"] = options["lead"] or None
    if options["order"] is not None:
        changes["article_ids"] = _ids(options["order"], "--order")
    if options["exclude"] is not None:
        changes["excluded_article_ids"] = _ids(options["exclude"], "--exclude")
    return changes
