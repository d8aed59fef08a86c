"""Records the CLI's successful changes in the activity log, by wrapping the commands that change things.

The actor is the operating-system user who ran the command; the subject is the command's id argument.
"""

from __future__ import annotations

import functools

import click

from newsletter.accounts import activity

COMMAND_ACTIONS = {
    ("editions", "build"): ("build", "week"),
    ("editions", "send"): ("send", "edition_id"),
    ("editions", "schedule"): ("schedule", "edition_id"),
    ("editions", "unschedule"): ("unschedule", "edition_id"),
    ("editions", "reopen"): ("reopen", "edition_id"),
    ("editions", "cancel"): ("cancel", "edition_id"),
    ("sending", "pause"): ("pause", "edition_id"),
    ("sending", "resume"): ("resume", "edition_id"),
    ("sending", "cancel"): ("cancel", "edition_id"),
    ("articles", "import"): ("articles_import", None),
    ("articles", "fetch"): ("articles_fetch", None),
    ("subscribers", "import"): ("subscribers_import", None),
    ("subscribers", "export"): ("subscribers_export", None),
    ("sections", "set"): ("sections_set", None),
    ("editors", "create"): ("account_create", "name"),
    ("editors", "set-password"): ("account_password", "name"),
    ("editors", "revoke"): ("account_revoke", "editor_id"),
}


def _subject(argument: str | None, params: dict) -> str:
    if argument is None:
        return ""
    value = params.get(argument)
    if argument == "edition_id":
        return f"edition {value}"
    if argument == "editor_id":
        return f"editor {value}"
    if argument == "week":
        return f"week {getattr(value, 'isoformat', lambda: value)()}"
    return str(value)


def _audited(command: click.Command, action: str, argument: str | None) -> None:
    original = command.callback
    if original is None:  # a group with no callback of its own has nothing to record
        return

    @functools.wraps(original)
    def callback(*args, **kwargs):
        result = original(*args, **kwargs)
        activity.record(activity.cli_actor(), action, _subject(argument, kwargs))
        return result

    command.callback = callback


def audit_command(group: click.Command) -> None:
    """Wrap the changing subcommands of one top-level group (once, however often it is loaded)."""
    if not isinstance(group, click.Group):
        return
    for (group_name, name), (action, argument) in COMMAND_ACTIONS.items():
        command = group.commands.get(name) if group.name == group_name else None
        if command is not None and not getattr(command.callback, "__audited__", False):
            _audited(command, action, argument)
            command.callback.__audited__ = True  # type: ignore[union-attr]  # set on the wrapper just made
