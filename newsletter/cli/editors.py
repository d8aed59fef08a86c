"""`newsletter editors`: create, list and revoke editor API tokens."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import editors as service

editors_group = AppGroup("editors", help="Editors and their API tokens.")


@editors_group.command("create")
@click.argument("name")
def create_command(name: str) -> None:
    """Create an editor and print its API token (shown only this once)."""
    try:
        editor, token = service.create_editor(name)
    except service.EditorError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Editor {editor.id} ({editor.name}) created. API token (shown only once):", err=True)
    click.echo(token)


@editors_group.command("list")
def list_command() -> None:
    """List editors (tokens are never shown again)."""
    for editor in service.list_editors():
        state = f"revoked {editor.revoked_at:%Y-%m-%d %H:%M}" if editor.revoked_at else "active"
        used = f"{editor.last_used_at:%Y-%m-%d %H:%M}" if editor.last_used_at else "never"
        click.echo(f"{editor.id}\t{editor.name}\t{state}\tlast used {used}")


@editors_group.command("revoke")
@click.argument("editor_id", type=int)
def revoke_command(editor_id: int) -> None:
    """Revoke an editor's token at once."""
    try:
        editor = service.revoke_editor(editor_id)
    except service.EditorError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Editor {editor.id} ({editor.name}) revoked.")
