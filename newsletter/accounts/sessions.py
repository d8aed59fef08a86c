"""Console sessions kept on the server: the cookie carries a random session id, the database its record.

A session ends at once when its editor signs out, changes the password or 2FA, ends it from the account page,
or an admin signs the editor out everywhere (or revokes the account). It also expires after `idle` seconds
without a request and `lifetime` seconds after sign-in, whichever comes first; the console passes both in.
Only a sha256 of the id is stored, so a copy of the table opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from newsletter.core.database import affected_rows
from newsletter.core.extensions import db
from newsletter.models import ConsoleSession, Editor, utcnow

TOUCH_EVERY = timedelta(seconds=30)
"""`last_seen_at` is written at most this often: not every page view needs a write."""


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lives without a request (`idle`) and at all (`lifetime`), in seconds."""

    idle: float
    lifetime: float


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def start(editor: Editor, ip: str, user_agent: str) -> str:
    """Record a new session for the editor; return its id, which only the cookie holds."""
    key = secrets.token_urlsafe(32)
    db.session.add(
        ConsoleSession(
            key_hash=_hash(key), editor_id=editor.id, ip=(ip or "")[:64], user_agent=(user_agent or "")[:300]
        )
    )
    db.session.commit()
    return key


def find(key: str, limits: Lifetimes, now: datetime | None = None) -> ConsoleSession | None:
    """The live session with this id (its last-seen time refreshed), or None: unknown, ended or expired."""
    if not key:
        return None
    record = db.session.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == _hash(key)))
    if record is None or record.ended_at is not None:
        return None
    now = now or utcnow()
    if now - record.last_seen_at > timedelta(seconds=limits.idle) or now - record.created_at > timedelta(
        seconds=limits.lifetime
    ):
        record.ended_at = now
        db.session.commit()
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
        db.session.commit()
    return record


def end(key: str) -> None:
    """End the session with this id (signing out)."""
    if key:
        _end(ConsoleSession.key_hash == _hash(key))


def end_one(editor: Editor, session_id: int) -> bool:
    """End one of the editor's own sessions (from the account page); False when it is not theirs or not live."""
    return _end(ConsoleSession.editor_id == editor.id, ConsoleSession.id == session_id) == 1


def end_all(editor: Editor) -> int:
    """End every session of the editor (password or 2FA change, "sign out everywhere", revocation)."""
    return _end(ConsoleSession.editor_id == editor.id)


def _end(*conditions: ColumnElement[bool]) -> int:
    result = db.session.execute(
        update(ConsoleSession).where(ConsoleSession.ended_at.is_(None), *conditions).values(ended_at=utcnow())
    )
    db.session.commit()
    return affected_rows(result)


def live(editor: Editor, limits: Lifetimes, now: datetime | None = None) -> list[ConsoleSession]:
    """The editor's sessions that still open the console, most recently used first."""
    now = now or utcnow()
    query = select(ConsoleSession).where(
        ConsoleSession.editor_id == editor.id,
        ConsoleSession.ended_at.is_(None),
        ConsoleSession.last_seen_at > now - timedelta(seconds=limits.idle),
        ConsoleSession.created_at > now - timedelta(seconds=limits.lifetime),
    )
    return list(db.session.scalars(query.order_by(ConsoleSession.last_seen_at.desc(), ConsoleSession.id.desc())))
