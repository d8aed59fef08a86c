"""newsletter: a self-hosted weekly newsletter service. This module is the composition root.

`create_app` wires every part's `init_app` into one Flask application; `main` is the `newsletter` command,
which builds that application on demand. Everything else lives in the domain packages (ARCHITECTURE.md):
`core` and `models` at the bottom, then `operations`, `delivery`, `accounts`, `content`, `editions`,
`subscribers` and `bounces`, with the interfaces `api`, `web`, `console` and `cli` on top.
"""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, run_command
from werkzeug.middleware.proxy_fix import ProxyFix

from newsletter.core.config import PROJECT_ROOT


class NewsletterFlask(Flask):
    """Flask that also autoescapes MJML email templates (they are HTML too)."""

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        return filename is None or filename.endswith((".html", ".htm", ".xml", ".mjml"))


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application; `config` overrides the environment (used by tests)."""
    from newsletter import api, cli, console, models, web  # noqa: F401  (models: register the tables)
    from newsletter.core import config as config_module
    from newsletter.core import database, i18n, log_limits, rate_limits
    from newsletter.core import settings as settings_module
    from newsletter.subscribers import confirmation_mail

    instance_path = (config or {}).get("INSTANCE_PATH")
    app = NewsletterFlask(
        __name__,
        instance_path=str(instance_path) if instance_path else str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    config_module.load_config(app, config)
    settings = app.extensions[settings_module.EXTENSION_KEY] = settings_module.Settings.from_config(app.config)
    proxy_hops = settings.site.proxy_hops
    if proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops)  # type: ignore[method-assign]  # Flask's documented way to wrap the WSGI app
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_limits.limit_repeats()
    _report_unknown_variables()
    database.init_app(app)
    i18n.init_app(app)
    rate_limits.init_app(app)
    confirmation_mail.init_app(app)
    web.init_app(app)
    api.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    return app


_reported_variables: set[str] = set()


def _report_unknown_variables() -> None:
    """One WARNING per NEWSLETTER_* variable that is no setting (a typo would otherwise be silently ignored)."""
    from newsletter.core.settings import unknown_variables

    for name, closest in unknown_variables(os.environ):
        if name not in _reported_variables:
            _reported_variables.add(name)
            hint = f"; did you mean {closest}?" if closest else ""
            logging.getLogger("newsletter").warning("unknown setting %s is ignored%s", name, hint)


def _make_app() -> Flask:
    from newsletter.core.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


class NewsletterGroup(FlaskGroup):
    """Flask's CLI group whose own commands are imported only when they run (`newsletter.cli.COMMANDS`).

    `newsletter --help` lists them from that table, so it builds no app and imports no service; Flask's and the
    extensions' commands (`db`, `shell`, `routes`, …) still come from the app, which is built when they run.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        from newsletter import cli

        return [*cli.COMMANDS, *sorted({*cli.EXTENSION_COMMANDS, *self.commands})]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from newsletter import cli

        if name in cli.COMMANDS:
            return cli.load(name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from newsletter import cli

        rows = [(name, help_text) for name, (_, _, help_text) in cli.COMMANDS.items()]
        rows += sorted(cli.EXTENSION_COMMANDS.items())
        rows += sorted(
            (name, command.get_short_help_str()) for name, command in self.commands.items() if not command.hidden
        )
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=NewsletterGroup, create_app=_make_app, add_version_option=False)
def main() -> None:
    """Self-hosted weekly newsletter: subscribers, editions and delivery."""


# Flask's development server stays available as `newsletter run`, but `newsletter serve` is the way to run it.
_hidden_run = copy.copy(run_command)
_hidden_run.hidden = True
main.add_command(_hidden_run, "run")
