"""The start-up check shared by `serve`, `worker` and `scheduler`: one line and exit status 1 when not usable."""

from __future__ import annotations

import click
from flask import current_app

from newsletter.operations import health


def ensure_ready() -> None:
    try:
        health.check_startup(current_app.config)
    except health.NotReady as error:
        raise click.ClickException(str(error)) from None
