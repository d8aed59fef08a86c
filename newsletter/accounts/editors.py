"""Editors: their API tokens (shown once, only a sha256 hash kept), roles and the e-mail they sign in with."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, or_, select

from newsletter.accounts import sessions
from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.extensions import db
from newsletter.models import Editor, EditorRole, utcnow


class EditorError(ValueError):
    """An editor command that cannot be carried out (clear message for the user)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_email(email: str | None, smtp_utf8: bool) -> str | None:
    if email is None or not email.strip():
        return None
    try:
        return normalise_address(email, smtp_utf8=smtp_utf8)
    except InvalidAddress as error:
        raise EditorError(f"the e-mail address is not valid: {error}") from error


def _check_free(name: str, email: str | None) -> None:
    """Names and e-mail addresses sign in, so no two active editors may share one."""
    taken = select(Editor.id).where(
        Editor.revoked_at.is_(None),
        or_(func.lower(Editor.name) == name.lower(), func.lower(Editor.email) == (email or "").lower()),
    )
    if db.session.scalar(taken.limit(1)) is not None:
        raise EditorError("an active editor already has this name or e-mail address")


def create_editor(
    name: str, email: str | None = None, role: str = EditorRole.EDITOR, *, smtp_utf8: bool
) -> tuple[Editor, str]:
    """Create an editor; return it with its token (the only time the token exists in clear).

    `smtp_utf8`: addresses beyond ASCII before the @ are accepted (NEWSLETTER_SMTP_UTF8), as for subscribers.
    """
    name = (name or "").strip()
    if not name or len(name) > 200 or "@" in name:
        raise EditorError("an editor needs a name of 1 to 200 characters without @")
    if role not in tuple(EditorRole):
        raise EditorError(f"the role must be one of {', '.join(EditorRole)}")
    email = _clean_email(email, smtp_utf8)
    _check_free(name, email)
    token = secrets.token_urlsafe(32)
    editor = Editor(name=name, email=email, role=role, token_hash=hash_token(token))
    db.session.add(editor)
    db.session.commit()
    return editor, token


def list_editors() -> list[Editor]:
    return list(db.session.scalars(select(Editor).order_by(Editor.id)))


def get_editor(editor_id: int) -> Editor | None:
    return db.session.get(Editor, editor_id)


def active_editor_named(name: str) -> Editor | None:
    """The active editor with this name (case-insensitive) or e-mail address, or None."""
    login = (name or "").strip().lower()
    if not login:
        return None
    query = select(Editor).where(
        Editor.revoked_at.is_(None), or_(func.lower(Editor.name) == login, func.lower(Editor.email) == login)
    )
    found = list(db.session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


def revoke_editor(editor_id: int) -> Editor:
    editor = db.session.get(Editor, editor_id)
    if editor is None:
        raise EditorError(f"no editor with id {editor_id}")
    if editor.revoked_at is None:
        editor.revoked_at = utcnow()
        editor.session_epoch += 1
        db.session.commit()
    sessions.end_all(editor)
    return editor


def set_role(editor: Editor, role: str) -> Editor:
    if role not in tuple(EditorRole):
        raise EditorError(f"the role must be one of {', '.join(EditorRole)}")
    editor.role = role
    db.session.commit()
    return editor


def editor_for_token(token: str) -> Editor | None:
    """The active editor holding this token, or None (unknown or revoked)."""
    if not token:
        return None
    editor: Editor | None = db.session.scalar(select(Editor).where(Editor.token_hash == hash_token(token)))
    if editor is None or editor.revoked_at is not None:
        return None
    editor.last_used_at = utcnow()
    db.session.commit()
    return editor


def set_console_language(editor: Editor, language: str) -> None:
    editor.console_language = language
    db.session.commit()
