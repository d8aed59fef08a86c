"""Editors and their API tokens: a token is shown once, only its sha256 hash is kept."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from .extensions import db
from .models import Editor, utcnow


class EditorError(ValueError):
    """An editor command that cannot be carried out (clear message for the user)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_editor(name: str) -> tuple[Editor, str]:
    """Create an editor; return it with its token (the only time the token exists in clear)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise EditorError("an editor needs a name of 1 to 200 characters")
    token = secrets.token_urlsafe(32)
    editor = Editor(name=name, token_hash=hash_token(token))
    db.session.add(editor)
    db.session.commit()
    return editor, token


def list_editors() -> list[Editor]:
    return list(db.session.scalars(select(Editor).order_by(Editor.id)))


def revoke_editor(editor_id: int) -> Editor:
    editor = db.session.get(Editor, editor_id)
    if editor is None:
        raise EditorError(f"no editor with id {editor_id}")
    if editor.revoked_at is None:
        editor.revoked_at = utcnow()
        db.session.commit()
    return editor


def editor_for_token(token: str) -> Editor | None:
    """The active editor holding this token, or None (unknown or revoked)."""
    if not token:
        return None
    editor = db.session.scalar(select(Editor).where(Editor.token_hash == hash_token(token)))
    if editor is None or editor.revoked_at is not None:
        return None
    editor.last_used_at = utcnow()
    db.session.commit()
    return editor
