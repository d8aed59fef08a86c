"""Signing in (password, then TOTP or a recovery code), signing out, the account page and the language."""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from newsletter.accounts import activity
from newsletter.accounts import editors as editor_service
from newsletter.accounts import sign_in as accounts
from newsletter.console import bp
from newsletter.console.security import ConsoleUser, current_editor, two_factor_missing
from newsletter.core import rate_limits
from newsletter.core.config import LANGUAGES

CODE_STEP_SECONDS = 300


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.this_week")


def _start_session(editor) -> None:
    """A fresh session (no fixation), keeping only the chosen language."""
    language = session.get("console_language")
    session.clear()
    if language:
        session["console_language"] = language
    login_user(ConsoleUser(editor))
    session["seen_at"] = time.time()
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
        editor = accounts.check_password(editor_service.active_editor_named(login), request.form.get("password", ""))
    except accounts.SignInRefused as refused:
        return render_template("console/sign_in.html", login=login, error=refused.message), 401
    if editor.totp_secret:
        session["pending_editor"] = f"{editor.id}:{editor.session_epoch}"
        session["pending_at"] = time.time()
        session["pending_next"] = _safe_next(request.args.get("next"))
        return redirect(url_for("console.sign_in_code"))
    _start_session(editor)
    return redirect(_safe_next(request.args.get("next")))


def _pending_editor():
    pending = session.get("pending_editor", "")
    if time.time() - session.get("pending_at", 0) > CODE_STEP_SECONDS:
        return None
    user = _load(pending)
    return user.editor if user else None


def _load(user_id: str):
    from newsletter.console.security import load_user

    return load_user(user_id) if user_id else None


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
        how = accounts.check_second_factor(editor, request.form.get("code", "")[:64])
    except accounts.SignInRefused as refused:
        return render_template("console/sign_in_code.html", error=refused.message), 401
    target = session.get("pending_next")
    _start_session(editor)
    if how == "recovery":
        flash(_("You used a recovery code; %(count)d are left.", count=accounts.recovery_codes_left(editor)))
    return redirect(_safe_next(target))


@bp.post("/sign-out")
def sign_out():
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


@bp.route("/account", methods=["GET", "POST"], endpoint="two_factor")
def account():
    """Turn TOTP on (QR code drawn here, recovery codes shown once) or off, and change the password."""
    editor = current_editor()
    action = request.form.get("action")
    if request.method == "POST" and action == "password":
        return _change_password(editor)
    if request.method == "POST" and action == "disable" and not current_app.config["CONSOLE_REQUIRE_2FA"]:
        accounts.disable_totp(editor)
        activity.record(activity.editor_actor(editor, "console"), "account_2fa_off", editor.name)
        _start_session(editor)
        flash(_("Two-factor sign-in is off."))
        return redirect(url_for("console.two_factor"))
    if request.method == "POST" and action == "enable":
        return _enable_totp(editor)
    secret = accounts.new_totp_secret() if not editor.totp_secret else None
    session["totp_candidate"] = secret
    return _account_page(editor, secret)


def _account_page(editor, secret, error=None, codes=None, password_error=None, status=200):
    qr = accounts.totp_qr_svg(editor, secret) if secret else None
    return render_template(
        "console/account.html",
        editor=editor,
        secret=secret,
        qr=qr,
        error=error,
        codes=codes,
        password_error=password_error,
        required=two_factor_missing(),
        codes_left=accounts.recovery_codes_left(editor),
    ), status


def _enable_totp(editor):
    secret = session.get("totp_candidate")
    if not secret or editor.totp_secret:
        return redirect(url_for("console.two_factor"))
    try:
        codes = accounts.enable_totp(editor, secret, request.form.get("code", "")[:64])
    except accounts.SignInRefused as refused:
        return _account_page(editor, secret, error=refused.message, status=422)
    session.pop("totp_candidate", None)
    activity.record(activity.editor_actor(editor, "console"), "account_2fa_on", editor.name)
    _start_session(editor)
    return _account_page(editor, None, codes=codes)


def _change_password(editor):
    try:
        accounts.check_password(editor, request.form.get("current_password", ""))
        accounts.set_password(editor, request.form.get("new_password", ""))
    except accounts.SignInRefused:
        return _account_page(editor, None, password_error=_("The current password is not right."), status=422)
    except accounts.PasswordRejected as rejected:
        return _account_page(editor, None, password_error=rejected.message, status=422)
    activity.record(activity.editor_actor(editor, "console"), "account_password", editor.name)
    _start_session(editor)
    flash(_("Your password is changed; your other sessions are signed out."))
    return redirect(url_for("console.two_factor"))
