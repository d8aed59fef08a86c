"""Console sign-in: Argon2 passwords, TOTP second factor with replay refusal, and one-time recovery codes.

Every failure raises SignInRefused with the same message whether the account exists or not, and an
unknown account still costs one Argon2 verification, so neither the answer nor its timing tells.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime
from typing import Any, cast

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, or_, update

from newsletter.accounts import lock_notice, lockout, sessions
from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.models import Editor

PASSWORD_MIN, PASSWORD_MAX = 10, 1000
RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "Newsletter console"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has: equalises the time of unknown accounts")


class SignInRefused(Exception):
    """Wrong name, password or code: one message for every reason, in the editor's language."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__()
        self.message = message or _l("The name, password or code is not right.")


class PasswordRejected(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(str(message))
        self.message = message


def check_password_rules(password: str) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise PasswordRejected(_l("The password needs at least %(count)d characters.", count=PASSWORD_MIN))
    if len(password) > PASSWORD_MAX:
        raise PasswordRejected(_l("The password is too long (at most %(count)d characters).", count=PASSWORD_MAX))
    return password


def set_password(editor: Editor, password: str) -> None:
    """Store an Argon2 hash of the new password and end every session of the editor (the console starts a
    fresh one for the editor who changed it)."""
    editor.password_hash = _hasher.hash(check_password_rules(password))
    editor.session_epoch += 1
    db.session.commit()
    sessions.end_all(editor)


class PasswordAgain(SignInRefused):
    """Too many wrong codes after one password: the sign-in starts again from the password."""


def check_password(editor: Editor | None, password: str, settings: Settings, now: datetime | None = None) -> Editor:
    """The editor if the password matches and the account is not locked; SignInRefused otherwise (after the
    same amount of work, with the same message). A wrong password counts toward the account's lock."""
    stored = editor.password_hash if editor is not None and editor.password_hash else _DUMMY_HASH
    active = editor is not None and editor.revoked_at is None and bool(editor.password_hash)
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        if active and editor is not None and lockout.record_failure(editor, now):
            lock_notice.account_locked(editor, settings)
        raise SignInRefused() from None
    if editor is None or not active or lockout.is_locked(editor, now):
        raise SignInRefused()
    if _hasher.check_needs_rehash(stored):
        editor.password_hash = _hasher.hash(password)
        db.session.commit()
    return editor


# --- TOTP ------------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_qr_svg(editor: Editor, secret: str) -> str:
    """The otpauth:// URI as an inline SVG QR code, drawn on the server (no third party sees the secret)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=editor.email or editor.name, issuer_name=TOTP_ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title="QR")


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (of the current one and its neighbours) whose code this is, or None."""
    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]


def enable_totp(editor: Editor, secret: str, code: str) -> list[str]:
    """Turn TOTP on once the editor typed a code from the authenticator; return fresh recovery codes."""
    step = _matching_step(secret, code, time.time())
    if step is None:
        raise SignInRefused(_l("The code is not right. Check the clock of your phone and try again."))
    codes = _new_recovery_codes()
    editor.totp_secret = secret
    editor.totp_last_step = step
    editor.recovery_codes = " ".join(_hash_code(c) for c in codes)
    editor.session_epoch += 1
    db.session.commit()
    sessions.end_all(editor)
    return codes


def disable_totp(editor: Editor) -> None:
    editor.totp_secret = None
    editor.totp_last_step = None
    editor.recovery_codes = ""
    editor.session_epoch += 1
    db.session.commit()
    sessions.end_all(editor)


def check_code(editor: Editor, code: str, settings: Settings, now: datetime | None = None) -> str:
    """The second step of a sign-in, throttled: refused while the account is locked, PasswordAgain once the
    wrong codes since the password reach the limit; a right code completes the sign-in and clears the counters."""
    if lockout.codes_exhausted(editor):
        raise PasswordAgain()
    if lockout.is_locked(editor, now):
        raise SignInRefused()
    try:
        how = check_second_factor(editor, code, now.timestamp() if now else None)
    except SignInRefused:
        if lockout.record_failure(editor, now, wrong_code=True):
            lock_notice.account_locked(editor, settings)
        if lockout.codes_exhausted(editor):
            raise PasswordAgain() from None
        raise
    lockout.signed_in(editor)
    return how


def check_second_factor(editor: Editor, code: str, now: float | None = None) -> str:
    """Accept a fresh TOTP code (never one of an already used step) or an unused recovery code.

    The step is claimed with a conditional UPDATE, so two requests racing with one code cannot both win.
    Returns "totp" or "recovery".
    """
    step = _matching_step(editor.totp_secret or "", code, time.time() if now is None else now)
    if step is not None:
        claimed = cast(  # an UPDATE's result is a CursorResult (Session.execute is typed as the general Result)
            CursorResult[Any],
            db.session.execute(
                update(Editor)
                .where(Editor.id == editor.id, or_(Editor.totp_last_step.is_(None), Editor.totp_last_step < step))
                .values(totp_last_step=step)
            ),
        )
        db.session.commit()
        db.session.refresh(editor)
        if claimed.rowcount == 1:
            return "totp"
        raise SignInRefused(_l("This code was already used. Wait for the next one."))
    return _use_recovery_code(editor, code)


def _use_recovery_code(editor: Editor, code: str) -> str:
    hashes = editor.recovery_codes.split()
    wanted = _hash_code(code or "")
    if not code or wanted not in hashes:
        raise SignInRefused()
    remaining = " ".join(h for h in hashes if h != wanted)
    claimed = cast(  # an UPDATE's result is a CursorResult (Session.execute is typed as the general Result)
        CursorResult[Any],
        db.session.execute(
            update(Editor)
            .where(Editor.id == editor.id, Editor.recovery_codes == editor.recovery_codes)
            .values(recovery_codes=remaining)
        ),
    )
    db.session.commit()
    db.session.refresh(editor)
    if claimed.rowcount != 1:
        raise SignInRefused()
    return "recovery"


def recovery_codes_left(editor: Editor) -> int:
    return len(editor.recovery_codes.split())
