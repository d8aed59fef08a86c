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
    """Bumped when the password or 2FA changes, which ends every other console session of this editor."""

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
