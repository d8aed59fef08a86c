"""The start-up checks shared by `serve`, `worker` and `scheduler`: one line and exit status 1 when not usable."""

from __future__ import annotations

import click
from flask import current_app

from newsletter.core.settings import smtp_settings
from newsletter.delivery import probe
from newsletter.delivery.signing import signer_from_config
from newsletter.operations import health


def ensure_ready() -> None:
    try:
        health.check_startup(current_app.config)
    except health.NotReady as error:
        raise click.ClickException(str(error)) from None


def ensure_signing() -> None:
    """DKIM settings that cannot sign end the command at start with one line (not a worker restarting for ever)."""
    try:
        signer_from_config(current_app.config)
    except ValueError as error:
        raise click.ClickException(f"{error}; fix NEWSLETTER_DKIM_* or unset them") from None


def relay_for_once() -> None:
    """`--once`: a relay that cannot be reached, refuses TLS or refuses the password for
    NEWSLETTER_SMTP_PROBE_SECONDS ends the command with one line and exit status 1."""
    config = current_app.config
    if not config.get("SMTP_URL"):
        return
    seconds = float(config["SMTP_PROBE_SECONDS"])
    result = probe.probe_until(smtp_settings(config), seconds)
    if not result.ok:
        raise_relay_failure(result)


def relay_watch_for_once(stop) -> probe.RelayWatch | None:
    """`--once`, while sending: the relay probed in the background; failing for NEWSLETTER_SMTP_PROBE_SECONDS
    stops the worker (claimed rows given back) and `raise_relay_failure(watch.gave_up)` ends the command."""
    config = current_app.config
    if not config.get("SMTP_URL"):
        return None
    watch = probe.RelayWatch(smtp_settings(config))
    watch.give_up_after(float(config["SMTP_PROBE_SECONDS"]), stop)
    return watch


def raise_relay_failure(result: probe.ProbeResult) -> None:
    config = current_app.config
    settings = smtp_settings(config)
    seconds = float(config["SMTP_PROBE_SECONDS"])
    raise click.ClickException(
        f"{result.line(f'{settings.host}:{settings.port}')} (still after {seconds:g}s); check NEWSLETTER_SMTP_URL"
    )


def relay_watch() -> probe.RelayWatch | None:
    """A long-running process: probe the relay now (a warning line if it does not work) and keep the state."""
    config = current_app.config
    if not config.get("SMTP_URL"):
        return None
    watch = probe.RelayWatch(smtp_settings(config))
    watch.check()
    return watch
