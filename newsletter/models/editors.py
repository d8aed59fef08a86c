"""Editors: their API tokens (only a hash is kept) and their console login (Argon2 hash, TOTP, recovery codes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class EditorRole(StrEnum):
    """An editor works on articles and editions; an admin also manages editors, erasure and suppression."""

    EDITOR = "editor"
    ADMIN = "admin"


class Editor(Model):
    __tablename__ = "editors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=EditorRole.EDITOR, server_default=EditorRole.EDITOR)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    """Set only once the editor proved the authenticator works (enrolment keeps the candidate in the session)."""
    totp_last_step: Mapped[int | None] = mapped_column()
    """The last accepted TOTP time step: a code of that step or an earlier one is a replay."""
    recovery_codes: Mapped[str] = mapped_column(Text, default="", server_default="")
    """Space-separated sha256 hashes of the unused recovery codes."""
    console_language: Mapped[str | None] = mapped_column(String(2))
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    """Bumped when the password or 2FA changes: a sign-in halfway (password given, code not yet) of an older
    epoch is void."""
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    """Wrong passwords and codes since the last complete sign-in; from the 5th on, the account is locked."""
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """While in the future, every sign-in is refused with the answer of a wrong password."""
    code_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    """Wrong codes since the last right password: at the limit, the password must be given again."""

    @property
    def is_admin(self) -> bool:
        return self.role == EditorRole.ADMIN


class ActivityEntry(Model):
    """One thing someone did (built, edited, sent, scheduled, erased…), from the console, the API or the CLI."""

    __tablename__ = "activity_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("editors.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_activity_log_at", "at"),)


class ConsoleSession(Model):
    """One signed-in console session: the cookie holds a random id, only its sha256 is stored here.

    Ended (`ended_at`) by signing out, a password or 2FA change, the editor or an admin ending it, or
    revocation; expired after idle minutes or an absolute lifetime (checked on every request).
    """

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    editor_id: Mapped[int] = mapped_column(ForeignKey("editors.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (Index("ix_console_sessions_editor_id", "editor_id"),)
