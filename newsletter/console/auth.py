"""Signing in (password, then TOTP or a recovery code), signing out, the account page and the language."""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from newsletter.accounts import editors as editor_service
from newsletter.accounts import lockout, sessions
from newsletter.accounts import sign_in as accounts
from newsletter.console import bp
from newsletter.console.security import ConsoleUser, current_editor
from newsletter.core import rate_limits
from newsletter.core.config import LANGUAGES
from newsletter.core.settings import settings_of

CODE_STEP_SECONDS = 300


def _safe_next(target: object) -> str:
    """`next` only when it is a plain path inside the console (no scheme, host, `//`, backslash, control or
    space characters: a CR/LF would split the Location header); the console's start page otherwise."""
    if (
        isinstance(target, str)
        and target.startswith("/console/")
        and len(target) <= 2000
        and all(0x21 <= ord(char) < 0x7F and char != "\\" for char in target)
        and "//" not in target
    ):
        return target
    return url_for("console.this_week")


def start_session(editor) -> None:
    """A fresh session (no fixation): a new server-side record, a cookie keeping only its id and the language."""
    language = session.get("console_language")
    session.clear()
    if language:
        session["console_language"] = language
    key = sessions.start(editor, rate_limits.client_ip(), request.headers.get("User-Agent", ""))
    login_user(ConsoleUser(editor, key))
    session["had_console_session"] = True


@bp.route("/", methods=["GET", "POST"], endpoint="sign_in")
@bp.route("/sign-in", methods=["GET", "POST"])
@rate_limits.limit(rate_limits.SIGN_IN)
def sign_in():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("console.this_week"))
    if request.method == "GET":
        return render_template("console/sign_in.html", login="")
    login = request.form.get("login", "")[:320]
    try:
        editor = accounts.check_password(
            editor_service.active_editor_named(login), request.form.get("password", ""), settings_of(current_app)
        )
    except accounts.SignInRefused as refused:
        return render_template("console/sign_in.html", login=login, error=refused.message), 401
    if editor.totp_secret:
        lockout.password_step_passed(editor)
        session["pending_editor"] = f"{editor.id}:{editor.session_epoch}"
        session["pending_at"] = time.time()
        session["pending_next"] = _safe_next(request.args.get("next"))
        return redirect(url_for("console.sign_in_code"))
    lockout.signed_in(editor)
    start_session(editor)
    return redirect(_safe_next(request.args.get("next")))


def _pending_editor():
    """The editor who gave the right password in this session, not long ago and with no password or 2FA change
    since (the epoch); None otherwise."""
    editor_id, _sep, epoch = str(session.get("pending_editor", "")).partition(":")
    if time.time() - session.get("pending_at", 0) > CODE_STEP_SECONDS or not (editor_id.isdigit() and epoch.isdigit()):
        return None
    editor = editor_service.get_editor(int(editor_id))
    if editor is None or editor.revoked_at is not None or editor.session_epoch != int(epoch):
        return None
    return editor


@bp.route("/sign-in/code", methods=["GET", "POST"])
@rate_limits.limit(rate_limits.SIGN_IN)
def sign_in_code():
    editor = _pending_editor()
    if editor is None:
        flash(_("Please sign in again."), "error")
        return redirect(url_for("console.sign_in"))
    if request.method == "GET":
        return render_template("console/sign_in_code.html")
    try:
        how = accounts.check_code(editor, request.form.get("code", "")[:64], settings_of(current_app))
    except accounts.PasswordAgain:
        session.pop("pending_editor", None)
        flash(_("Too many wrong codes. Please sign in again."), "error")
        return redirect(url_for("console.sign_in"))
    except accounts.SignInRefused as refused:
        return render_template("console/sign_in_code.html", error=refused.message), 401
    target = session.get("pending_next")
    start_session(editor)
    if how == "recovery":
        flash(_("You used a recovery code; %(count)d are left.", count=accounts.recovery_codes_left(editor)))
    return redirect(_safe_next(target))


@bp.post("/sign-out")
def sign_out():
    sessions.end(current_user.key)
    logout_user()
    language = session.get("console_language")
    session.clear()
    if language:
        session["console_language"] = language
    flash(_("You are signed out."))
    return redirect(url_for("console.sign_in"))


@bp.post("/language")
def choose_language():
    """Remember the editor's language: on the account when signed in, in the session otherwise."""
    language = request.form.get("language")
    if language in LANGUAGES:
        session["console_language"] = language
        if current_user.is_authenticated:
            editor_service.set_console_language(current_editor(), language)
    return redirect(_safe_next(request.form.get("next")))
