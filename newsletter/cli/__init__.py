"""The `newsletter` command: a Flask CLI group with one Click group per domain."""
from __future__ import annotations

import copy

import click
from flask import Flask
from flask.cli import FlaskGroup, run_command


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


# Flask's development server stays available as `newsletter run`, but `newsletter serve` is the way to run it.
_hidden_run = copy.copy(run_command)
_hidden_run.hidden = True
main.add_command(_hidden_run, "run")


def init_app(app: Flask) -> None:
    """Attach each domain's command group to the app's CLI, in the order of the flow."""
    from .. import scheduler
    from . import articles, bounces, delivery, editions, editors, sections, sending, serve, subscribers, suppression

    app.cli.add_command(subscribers.subscribers_group)
    app.cli.add_command(editors.editors_group)
    app.cli.add_command(articles.articles_group)
    app.cli.add_command(editions.editions_group)
    app.cli.add_command(sections.sections_group)
    app.cli.add_command(sending.sending_group)
    app.cli.add_command(delivery.worker_command)
    app.cli.add_command(scheduler.scheduler_command)
    app.cli.add_command(serve.serve_command)
    app.cli.add_command(bounces.bounces_group)
    app.cli.add_command(suppression.suppression_group)
    from .audit import audit_commands

    audit_commands([subscribers.subscribers_group, editors.editors_group, articles.articles_group,
                    editions.editions_group, sending.sending_group, sections.sections_group,
                    suppression.suppression_group])
