"""Per-account throttling of sign-in, on top of the per-IP limits: guesses from many addresses add up here.

From the `LOCK_AFTER`th wrong password or code since the last complete sign-in, the account is locked for
`FIRST_LOCK` and each further failure doubles the lock, up to `LONGEST_LOCK`. While locked, every attempt
is refused with the answer of a wrong password (the right password too), so the lock tells a guesser
nothing. A wrong code counts as a failure as well, and after `CODE_TRIES` wrong codes the password step
is void: the password must be given again. The counters are updated in SQL (`x = x + 1`), so parallel
guesses cannot lose a count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from newsletter.core.extensions import db
from newsletter.models import Editor, utcnow

LOCK_AFTER = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
CODE_TRIES = 5


def lock_length(failures: int) -> timedelta | None:
    """How long the account is locked after this many failures in a row (None below LOCK_AFTER)."""
    if failures < LOCK_AFTER:
        return None
    doublings = min(failures - LOCK_AFTER, 12)
    return min(FIRST_LOCK * (1 << doublings), LONGEST_LOCK)


def is_locked(editor: Editor, now: datetime | None = None) -> bool:
    return editor.locked_until is not None and editor.locked_until > (now or utcnow())


def record_failure(editor: Editor, now: datetime | None = None, *, wrong_code: bool = False) -> bool:
    """Count one wrong password (or code); True when this failure started a lock (not when it extended one)."""
    now = now or utcnow()
    was_locked = is_locked(editor, now)
    values = {"failed_sign_ins": Editor.failed_sign_ins + 1}
    if wrong_code:
        values["code_tries"] = Editor.code_tries + 1
    db.session.execute(update(Editor).where(Editor.id == editor.id).values(**values))
    db.session.commit()
    db.session.refresh(editor)
    length = lock_length(editor.failed_sign_ins)
    if length is None:
        return False
    editor.locked_until = max(now + length, editor.locked_until or now)
    db.session.commit()
    return not was_locked


def password_step_passed(editor: Editor) -> None:
    """The right password (of an account with 2FA): a fresh allowance of codes, the failures kept."""
    editor.code_tries = 0
    db.session.commit()


def codes_exhausted(editor: Editor) -> bool:
    return editor.code_tries >= CODE_TRIES


def signed_in(editor: Editor) -> None:
    """A complete sign-in clears every counter."""
    editor.failed_sign_ins = 0
    editor.code_tries = 0
    editor.locked_until = None
    db.session.commit()
