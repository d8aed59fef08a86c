"""The `newsletter` command's parts: one Click group per domain, each imported only when it runs.

`COMMANDS` names every command with where it lives and its one-line help, so `newsletter --help` lists them
without importing a service, the delivery engine, MJML, bounce parsing or the scheduler (and without building
the app); `load` imports one when it is invoked. `init_app` also registers them all on `app.cli`, for
`app.test_cli_runner()` and the `flask` command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click
    from flask import Flask

# name: (module, attribute, short help), in the order of the flow
COMMANDS: dict[str, tuple[str, str, str]] = {
    "subscribers": ("newsletter.cli.subscribers", "subscribers_group", "Import, export and tidy the subscriber list."),
    "editors": ("newsletter.cli.editors", "editors_group", "Editors: API tokens and console logins."),
    "articles": ("newsletter.cli.articles", "articles_group", "The articles digests are built from."),
    "editions": ("newsletter.cli.editions", "editions_group", "The weekly per-language editions."),
    "sections": ("newsletter.cli.sections", "sections_group", "Topic sections: their order and names per language."),
    "stories": ("newsletter.cli.stories", "stories_group", "Stories: one commentary in every language, decided once."),
    "weeks": ("newsletter.cli.weeks", "weeks_group", "A week of editions, every language at once."),
    "sending": ("newsletter.cli.sending", "sending_group", "Pause, resume or cancel an edition's send, and watch it."),
    "worker": ("newsletter.cli.delivery", "worker_command", "Deliver queued mail (confirmations first, then digests)."),
    "scheduler": ("newsletter.cli.scheduler", "scheduler_command", "Run the weekly scheduler in the foreground."),
    "serve": ("newsletter.cli.serve", "serve_command", "Serve the site and API, deliver mail and run the schedule."),
    "bounces": ("newsletter.cli.bounces", "bounces_group", "Take in bounce reports and complaints."),
    "suppression": ("newsletter.cli.suppression", "suppression_group", "The addresses never mailed again."),
}
# Commands that extensions add to the app (listed for --help; the app is built only when one of them runs)
EXTENSION_COMMANDS: dict[str, str] = {
    "db": "Perform database migrations (Flask-Migrate): `newsletter db upgrade` on every deploy.",
    "limiter": "Flask-Limiter maintenance and utility commands.",
}
_loaded: dict[str, click.Command] = {}


def load(name: str) -> click.Command:
    """The command `name`, imported on first use, with the activity log's wrapping applied once."""
    if name not in _loaded:
        from newsletter.cli.audit import audit_command

        module, attribute, _ = COMMANDS[name]
        command: click.Command = getattr(importlib.import_module(module), attribute)
        audit_command(command)
        _loaded[name] = command
    return _loaded[name]


def init_app(app: Flask) -> None:
    """Attach every command to the app's CLI, in the order of the flow."""
    for name in COMMANDS:
        app.cli.add_command(load(name))
