"""`newsletter editors`: create, list and revoke editors; set their console password."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from newsletter.accounts import editors as service
from newsletter.accounts import sign_in as accounts
from newsletter.core.settings import settings_of
from newsletter.models import EditorRole

editors_group = AppGroup("editors", help="Editors: API tokens and console logins.")


@editors_group.command("create")
@click.argument("name")
@click.option("--email", default=None, help="The address the editor may also sign in with.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in EditorRole]),
    default=EditorRole.EDITOR.value,
    show_default=True,
    help="An admin also manages editors, erases subscribers and edits the suppression list.",
)
def create_command(name: str, email: str | None, role: str) -> None:
    """Create an editor and print its API token (shown only this once)."""
    try:
        smtp_utf8 = settings_of(current_app).mail.smtp_utf8
        editor, token = service.create_editor(name, email=email, role=role, smtp_utf8=smtp_utf8)
    except service.EditorError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Editor {editor.id} ({editor.name}, {editor.role}) created. API token (shown only once):", err=True)
    click.echo(token)


@editors_group.command("set-password")
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (never from the command line); "
    "on a terminal it is asked for twice, without echo, with or without this flag.",
)
def set_password_command(name: str, password_stdin: bool) -> None:
    """Set the console password of an active editor (by name or e-mail address).

    On a terminal the password is asked for twice and not shown; piped in, the first line is read."""
    editor = service.active_editor_named(name)
    if editor is None:
        raise click.ClickException(f"no active editor named {name!r}")
    password = _read_password()
    try:
        accounts.set_password(editor, password)
    except accounts.PasswordRejected as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password set for editor {editor.id} ({editor.name}); their console sessions are ended.")


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    try:
        return click.prompt(
            "New password", hide_input=True, confirmation_prompt="Repeat the new password", prompt_suffix=": "
        )
    except click.Abort:
        raise click.ClickException("no password set") from None


@editors_group.command("list")
def list_command() -> None:
    """List editors (tokens are never shown again)."""
    for editor in service.list_editors():
        state = f"revoked {editor.revoked_at:%Y-%m-%d %H:%M}" if editor.revoked_at else "active"
        used = f"{editor.last_used_at:%Y-%m-%d %H:%M}" if editor.last_used_at else "never"
        two_factor = "2FA" if editor.totp_secret else "no 2FA"
        click.echo(f"{editor.id}\t{editor.name}\t{editor.role}\t{state}\t{two_factor}\tlast used {used}")


@editors_group.command("revoke")
@click.argument("editor_id", type=int)
def revoke_command(editor_id: int) -> None:
    """Revoke an editor's token and console login at once."""
    try:
        editor = service.revoke_editor(editor_id)
    except service.EditorError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Editor {editor.id} ({editor.name}) revoked.")
