"""`newsletter worker`: deliver queued mail."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..delivery import worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Exit once every delivery is sent or permanently failed.")
@with_appcontext
def worker_command(once: bool) -> None:
    """Deliver queued mail (confirmations first, then digests)."""
    worker.run(once=once)
