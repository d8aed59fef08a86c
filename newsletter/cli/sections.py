"""`newsletter sections list|set FILE.json`: the topic sections' order and per-language names."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from newsletter.content import sections as service

sections_group = AppGroup("sections", help="Topic sections: their order and names per language.")


@sections_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list in the format `set` reads.")
def list_command(as_json: bool) -> None:
    """The defined sections in reading order."""
    rows = [service.section_json(s) for s in service.list_sections()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        names = " | ".join(f"{code}: {name}" for code, name in row["names"].items() if name)
        click.echo(f"{row['position'] + 1}. {row['name']}  ({names})")


@sections_group.command("set")
@click.argument("source", type=click.File("rb"))
def set_command(source) -> None:
    """Replace the sections with FILE's list, in order: [{"name": "Economy", "names": {"ru": "Экономика"}}, ...]."""
    try:
        items = json.loads(source.read())
    except (ValueError, RecursionError) as error:
        raise click.ClickException(f"{source.name}: not a JSON list of sections ({str(error)[:100]})") from None
    try:
        stored = service.replace_sections(items)
    except service.SectionsInvalid as error:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in error.errors.items())) from None
    click.echo(f"{len(stored)} sections stored.")
