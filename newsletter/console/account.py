"""The account page: one's password, two-factor sign-in and live sessions (each can be ended from here)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from newsletter.accounts import activity, sessions
from newsletter.accounts import sign_in as accounts
from newsletter.console import bp
from newsletter.console.auth import start_session
from newsletter.console.security import current_editor, session_lifetimes, two_factor_missing
from newsletter.core.settings import settings_of


@bp.route("/account", methods=["GET", "POST"], endpoint="two_factor")
def account():
    """Turn TOTP on (QR code drawn here, recovery codes shown once) or off, and change the password.

    The key offered for enrolment stays the same on every load until it is confirmed or cancelled, so a phone
    that scanned it keeps a working key."""
    editor = current_editor()
    action = request.form.get("action")
    if request.method == "POST" and action == "password":
        return _change_password(editor)
    if request.method == "POST" and action == "disable" and not current_app.config["CONSOLE_REQUIRE_2FA"]:
        accounts.disable_totp(editor)
        activity.record(activity.editor_actor(editor, "console"), "account_2fa_off", editor.name)
        start_session(editor)
        flash(_("Two-factor sign-in is off."))
        return redirect(url_for("console.two_factor"))
    if request.method == "POST" and action == "enable":
        return _enable_totp(editor)
    if request.method == "POST" and action == "cancel":
        session.pop("totp_candidate", None)
        flash(_("The key is discarded; a new one is shown."))
        return redirect(url_for("console.two_factor"))
    secret = None
    if not editor.totp_secret:
        secret = session.get("totp_candidate") or accounts.new_totp_secret()
        session["totp_candidate"] = secret
    return _account_page(editor, secret)


@bp.post("/account/sessions/<int:session_id>/end", endpoint="end_session")
def end_session(session_id: int):
    """End one of one's own sessions (a lost laptop, a shared computer); ending this one signs out here."""
    editor = current_editor()
    if sessions.end_one(editor, session_id):
        flash(_("The session is ended."))
    if current_user.record is not None and current_user.record.id == session_id:
        return redirect(url_for("console.sign_in"))
    return redirect(url_for("console.two_factor"))


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
        live_sessions=sessions.live(editor, session_lifetimes()),
        this_session=current_user.record.id if current_user.record is not None else None,
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
    start_session(editor)
    return _account_page(editor, None, codes=codes)


def _change_password(editor):
    try:
        accounts.check_password(editor, request.form.get("current_password", ""), settings_of(current_app))
        accounts.set_password(editor, request.form.get("new_password", ""))
    except accounts.SignInRefused:
        return _account_page(editor, None, password_error=_("The current password is not right."), status=422)
    except accounts.PasswordRejected as rejected:
        return _account_page(editor, None, password_error=rejected.message, status=422)
    activity.record(activity.editor_actor(editor, "console"), "account_password", editor.name)
    start_session(editor)
    flash(_("Your password is changed; your other sessions are signed out."))
    return redirect(url_for("console.two_factor"))
