"""`newsletter scheduler`: the weekly build and send in the foreground, or one due run with --once."""

from __future__ import annotations

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app
from flask.cli import with_appcontext

from newsletter import editions
from newsletter.cli.readiness import ensure_ready
from newsletter.content.weeks import publication_zone
from newsletter.editions.scheduler import (
    ScheduleError,
    configure,
    grace,
    next_run_description,
    parse_schedule,
    run_if_due,
    send_due_scheduled,
)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Do a due or missed run and send due scheduled editions, then exit.")
@with_appcontext
def scheduler_command(once: bool) -> None:
    """Run the weekly scheduler in the foreground (build last week's editions and send them)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxied app, for threads and processes
    ensure_ready()
    try:
        parse_schedule(app.config["SCHEDULE"])
    except ScheduleError as error:
        raise click.ClickException(str(error)) from error
    if once:
        outcome = run_if_due()
        started = send_due_scheduled()
        overdue = len(editions.overdue_editions(grace()))
        click.echo(
            f"weekly run: {outcome if outcome is not None else 'none due'}; scheduled sends started: {started}"
            + (f"; overdue scheduled editions (see `newsletter editions list`): {overdue}" if overdue else "")
        )
        return
    scheduler = configure(BlockingScheduler(timezone=publication_zone()), app)
    click.echo(
        f"Scheduler running ({app.config['SCHEDULE']}, {app.config['TIMEZONE']}); "
        f"{next_run_description(parse_schedule(app.config['SCHEDULE']))}; Ctrl+C stops it."
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
