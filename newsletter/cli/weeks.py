"""`newsletter weeks send W`: send every ready language of a week, saying each language's count or why not."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from newsletter.cli.stories import week_option
from newsletter.editions.week_send import send_week

weeks_group = AppGroup("weeks", help="A week of editions, every language at once.")


@weeks_group.command("send")
@click.argument("week", callback=week_option)
def send_command(week) -> None:
    """Build and send the week's editions in every language that is ready."""
    result = send_week(week)
    for code, story_ids in result.missing.items():
        click.echo(
            f"warning: {len(story_ids)} stories have no {code} version (stories {', '.join(map(str, story_ids))})",
            err=True,
        )
    for entry in result.languages:
        if entry.queued is not None:
            click.echo(f"{entry.language}: edition {entry.edition_id}, {entry.queued} deliveries queued")
        else:
            click.echo(f"{entry.language}: not sent: {entry.reason}")
    if not any(entry.queued is not None for entry in result.languages):
        raise click.ClickException("no language of the week was sent")
