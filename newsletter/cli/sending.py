"""`newsletter sending pause|resume|cancel|retry-failed|status ID`: the editor's controls over a send.

They go through the editions service, like the API; a state that does not allow the action is a CLI error.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from newsletter import editions as service
from newsletter.delivery import ledger


def _edition_or_fail(edition_id: int):
    edition = service.get_edition(edition_id)
    if edition is None:
        raise click.ClickException(f"No edition {edition_id}.")
    return edition


def _apply(edition_id: int, action) -> None:
    edition = _edition_or_fail(edition_id)
    try:
        status = action(edition)
    except service.EditionConflict as error:
        raise click.ClickException(str(error)) from None
    counts = ledger.edition_counts(edition_id)
    click.echo(
        f"Edition {edition_id}: {status}; {counts['sent']} sent, {counts['queued']} queued, "
        f"{counts['failed']} failed, {counts['cancelled']} cancelled."
    )


@click.group("sending")
def sending_group() -> None:
    """Pause, resume or cancel an edition's send, and watch its progress."""


@sending_group.command("pause")
@click.argument("edition_id", type=int)
@with_appcontext
def pause_command(edition_id: int) -> None:
    """Stop sending an edition (messages in flight finish); resume continues where it stopped."""
    _apply(edition_id, service.pause_edition)


@sending_group.command("resume")
@click.argument("edition_id", type=int)
@with_appcontext
def resume_command(edition_id: int) -> None:
    """Continue a paused send."""
    _apply(edition_id, service.resume_edition)


@sending_group.command("cancel")
@click.argument("edition_id", type=int)
@with_appcontext
def cancel_command(edition_id: int) -> None:
    """Cancel an edition's send: nothing more goes out; what was sent stays sent."""
    _apply(edition_id, service.cancel_edition)


@sending_group.command("retry-failed")
@click.argument("edition_id", type=int)
@click.option(
    "--reason",
    "reply_contains",
    default=None,
    metavar="TEXT",
    help="Only failures whose server reply contains TEXT, e.g. 5.4.5.",
)
@with_appcontext
def retry_failed_command(edition_id: int, reply_contains: str | None) -> None:
    """Queue an edition's failed deliveries once more (after fixing what made the relay refuse them)."""

    def retry(edition) -> str:
        queued = service.retry_failed(edition, reply_contains)
        click.echo(f"{queued} failed deliveries queued again.")
        return edition.status

    _apply(edition_id, retry)


@sending_group.command("status")
@click.argument("edition_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@with_appcontext
def status_command(edition_id: int, as_json: bool) -> None:
    """Delivery counts of an edition (queued, sending, sent, failed, suppressed, cancelled, next retry)."""
    edition = _edition_or_fail(edition_id)
    counts = ledger.edition_counts(edition_id)
    if as_json:
        click.echo(
            json.dumps(
                {"id": edition_id, "status": edition.status, "paused_reason": edition.paused_reason, "counts": counts}
            )
        )
        return
    click.echo(f"Edition {edition_id} ({edition.language}, week of {edition.week_start}): {edition.status}")
    if edition.paused_reason:
        click.echo(f"  paused: {edition.paused_reason}")
    for name, value in counts.items():
        click.echo(f"  {name:14} {value if value is not None else '-'}")
