"""The `newsletter` command: a Flask CLI group with one Click group per domain."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Attach each domain's command group to the app's CLI, in the order of the flow."""
    from newsletter.cli import (
        articles,
        bounces,
        delivery,
        editions,
        editors,
        scheduler,
        sections,
        sending,
        serve,
        stories,
        subscribers,
        suppression,
        weeks,
    )

    app.cli.add_command(subscribers.subscribers_group)
    app.cli.add_command(editors.editors_group)
    app.cli.add_command(articles.articles_group)
    app.cli.add_command(editions.editions_group)
    app.cli.add_command(sections.sections_group)
    app.cli.add_command(stories.stories_group)
    app.cli.add_command(weeks.weeks_group)
    app.cli.add_command(sending.sending_group)
    app.cli.add_command(delivery.worker_command)
    app.cli.add_command(scheduler.scheduler_command)
    app.cli.add_command(serve.serve_command)
    app.cli.add_command(bounces.bounces_group)
    app.cli.add_command(suppression.suppression_group)
    from newsletter.cli.audit import audit_commands

    audit_commands(
        [
            subscribers.subscribers_group,
            editors.editors_group,
            articles.articles_group,
            editions.editions_group,
            sending.sending_group,
            sections.sections_group,
            suppression.suppression_group,
        ]
    )
