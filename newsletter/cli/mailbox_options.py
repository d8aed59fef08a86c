"""`--maildir PATH | --mbox FILE`, shared by the commands that read a mailbox the operator already has."""

from __future__ import annotations

from pathlib import Path

import click


def mailbox_options(command):
    """Add both options; the command calls `exactly_one` first."""
    command = click.option(
        "--mbox",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="An mbox file: messages are handled, then removed from it.",
    )(command)
    return click.option(
        "--maildir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A maildir: messages in new/ are handled, then moved to cur/.",
    )(command)


def exactly_one(maildir: Path | None, mbox: Path | None) -> None:
    if (maildir is None) == (mbox is None):
        raise click.UsageError("give exactly one of --maildir or --mbox")
