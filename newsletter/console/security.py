"""Console sessions and headers: Flask-Login, session expiry, the 2FA requirement, language, CSP and no-store."""

from __future__ import annotations

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user

from newsletter.accounts import editors as editor_service
from newsletter.accounts import roles, sessions
from newsletter.console import bp
from newsletter.core.config import LANGUAGES
from newsletter.models import ConsoleSession, Editor
from newsletter.web.hygiene import csp_nonce

login_manager = LoginManager()
PUBLIC_ENDPOINTS = {"console.sign_in", "console.sign_in_code", "console.choose_language", "console.static_css"}
SETUP_ENDPOINTS = PUBLIC_ENDPOINTS | {"console.two_factor", "console.sign_out"}
UPLOAD_ENDPOINTS = {"console.articles_upload", "console.subscribers_import"}


class ConsoleUser(UserMixin):  # type: ignore[misc]  # flask_login ships no type information
    """The signed-in editor and their server-side session; the cookie holds only the session's random id."""

    def __init__(self, editor: Editor, key: str, record: ConsoleSession | None = None):
        self.editor = editor
        self.key = key
        self.record = record

    def get_id(self) -> str:
        return self.key

    @property
    def is_admin(self) -> bool:
        return self.editor.is_admin


def session_lifetimes() -> sessions.Lifetimes:
    """Idle timeout (`NEWSLETTER_CONSOLE_SESSION_MINUTES`) and absolute lifetime (`_SESSION_MAX_HOURS`)."""
    return sessions.Lifetimes(
        idle=60 * float(current_app.config["CONSOLE_SESSION_MINUTES"]),
        lifetime=3600 * float(current_app.config["CONSOLE_SESSION_MAX_HOURS"]),
    )


@login_manager.user_loader
def load_user(key: str) -> ConsoleUser | None:
    """The editor of the live session this cookie names; None when it ended, expired or was never ours."""
    record = sessions.find(key, session_lifetimes())
    if record is None:
        return None
    editor = editor_service.get_editor(record.editor_id)
    if editor is None or editor.revoked_at is not None:
        return None
    return ConsoleUser(editor, key, record)


def current_editor() -> Editor:
    return current_user.editor


def two_factor_missing() -> bool:
    return bool(current_app.config["CONSOLE_REQUIRE_2FA"]) and not current_editor().totp_secret


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """Sign-in (a live server-side session), the role table and the admin's 2FA requirement, before any view."""
    g.pop("csrf_token", None)  # a token cached by an earlier request sharing this app context (tests)
    g.pop("_login_user", None)  # likewise the user Flask-Login loaded: each request loads its own session
    _apply_language()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if session.pop("had_console_session", False):
            flash(_("Your session has expired. Please sign in again."), "error")
        return redirect(url_for("console.sign_in", next=request.full_path if request.method == "GET" else None))
    if not roles.may_use_endpoint(current_editor().role, request.endpoint):
        abort(403)
    if two_factor_missing() and request.endpoint not in SETUP_ENDPOINTS:
        flash(_("Two-factor sign-in is required for every account. Please set it up now."), "error")
        return redirect(url_for("console.two_factor"))
    return None


def _apply_language() -> None:
    """The editor's remembered language (account, else session) decides the console's language."""
    chosen = None
    if current_user.is_authenticated:
        chosen = current_editor().console_language
    chosen = chosen or session.get("console_language")
    if chosen in LANGUAGES and request.args.get("lang") not in LANGUAGES:
        g.forced_language = chosen
        from flask_babel import refresh

        refresh()


@bp.after_request
def console_headers(response):
    """No console page is cached; scripts run only by nonce; no one may frame the console."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'none'; script-src 'nonce-{csp_nonce()}'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _allow_console_uploads() -> None:
    """Uploads may be larger than API bodies; this runs before CSRF reads the form, so it must come first."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = int(current_app.config["CONSOLE_UPLOAD_BYTES"])


def init_app(app: Flask) -> None:
    secure = str(app.config["BASE_URL"]).startswith("https://")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )
    login_manager.init_app(app)
    login_manager.login_view = "console.sign_in"
    login_manager.session_protection = "strong"
    app.before_request_funcs.setdefault(None, []).insert(0, _allow_console_uploads)


def status_labels() -> dict[str, str]:
    from flask_babel import gettext

    return {
        "draft": gettext("draft"),
        "scheduled": gettext("scheduled"),
        "sending": gettext("sending"),
        "paused": gettext("paused"),
        "sent": gettext("sent"),
        "cancelled": gettext("cancelled"),
        "queued": gettext("queued"),
        "failed": gettext("failed"),
        "suppressed": gettext("suppressed"),
        "confirmed": gettext("confirmed"),
        "pending": gettext("pending"),
        "unsubscribed": gettext("unsubscribed"),
    }


@bp.context_processor
def console_context() -> dict:
    signed_in = current_user.is_authenticated
    return {
        "editor": current_editor() if signed_in else None,
        "is_admin": signed_in and current_user.is_admin,
        "status_labels": status_labels(),
        "zone": current_app.config["TIMEZONE"],
        "local_time": local_time,
    }


def local_time(moment) -> str:
    """A stored UTC time as the publication's local time, the way editors think of the schedule."""
    from newsletter.content.weeks import publication_zone

    return moment.astimezone(publication_zone()).strftime("%Y-%m-%d %H:%M") if moment else "—"
