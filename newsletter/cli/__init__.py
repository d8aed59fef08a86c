"""The `newsletter` command: a Flask CLI group with one Click group per domain."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def _make_app() -> Flask:
    from .. import create_app
    from ..config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_make_app, add_version_option=False)
def main() -> None:
    """Self-hosted weekly newsletter: subscribers, editions and delivery."""


def init_app(app: Flask) -> None:
    """Attach each domain's command group to the app's CLI, in the order of the flow."""
    from .. import scheduler
    from . import articles, delivery, editions, editors, sections, sending, serve, subscribers

    app.cli.add_command(subscribers.subscribers_group)
    app.cli.add_command(editors.editors_group)
    app.cli.add_command(articles.articles_group)
    app.cli.add_command(editions.editions_group)
    app.cli.add_command(sections.sections_group)
    app.cli.add_command(sending.sending_group)
    app.cli.add_command(delivery.worker_command)
    app.cli.add_command(scheduler.scheduler_command)
    app.cli.add_command(serve.serve_command)
    from .audit import audit_commands

    audit_commands([subscribers.subscribers_group, editors.editors_group, articles.articles_group,
                    editions.editions_group, sending.sending_group, sections.sections_group])
