"""Reading a mailbox the operator already has, each message handled once: a maildir or an mbox file.

A maildir's handled messages move from new/ to cur/ (marked seen); an mbox is emptied of the messages
handled. Used by the mailto: unsubscribes and by the bounce reports.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path

Handler = Callable[[bytes, str], None]
"""Called with each message's bytes and a name for reports (the maildir key, or `#n` in an mbox)."""


class NotAMailbox(ValueError):
    """The path is not a maildir (no new/ and cur/ folders) or not a readable mbox file."""


def handle_maildir(path: Path, handle: Handler) -> None:
    """Handle every message in new/, moving each to cur/ (seen) once handled."""
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        raise NotAMailbox(f"{path} is not a maildir (it needs new/ and cur/ folders)")
    box = mailbox.Maildir(str(path), factory=None, create=False)
    arrived = [entry for entry in (path / "new").iterdir() if not entry.name.startswith(".")]
    for entry in sorted(arrived):
        key = entry.name.split(box.colon)[0]
        handle(entry.read_bytes(), key)
        # moved as a file, never parsed here: a message too deeply nested to parse must still move on
        entry.rename(path / "cur" / f"{key}{box.colon}2,S")


def handle_mbox(path: Path, handle: Handler) -> None:
    """Handle every message in the mbox file and remove the ones handled."""
    try:
        box = mailbox.mbox(str(path), create=False)
    except (mailbox.Error, OSError) as error:
        raise NotAMailbox(f"{path} cannot be read as an mbox file") from error
    try:
        box.lock()
    except mailbox.ExternalClashError as error:
        box.close()
        raise NotAMailbox(f"{path} is locked by another program; try again later") from error
    try:
        for number, key in enumerate(list(box.keys()), start=1):
            handle(box.get_bytes(key), f"#{number}")
            box.remove(key)
        box.flush()
    finally:
        box.unlock()
        box.close()
