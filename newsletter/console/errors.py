"""The console's one mapping from errors to pages: each shows a clear message in the editor's language."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden, NotFound, RequestEntityTooLarge

from newsletter import editions
from newsletter.console import bp


def _page(message: str, code: int, title: str | None = None):
    return render_template("console/error.html", message=message, title=title or message, code=code), code


def csrf_failed(_error: CSRFError):
    return _page(
        _(
            "This form has expired or did not come from this console. Go back, reload the page "
            "and try again; nothing was changed."
        ),
        400,
        _("The form could not be accepted"),
    )


def forbidden(_error: Forbidden):
    return _page(_("This page is for administrators only."), 403, _("Not allowed"))


def not_found(_error: NotFound):
    return _page(_("This page does not exist."), 404)


def too_large(_error: RequestEntityTooLarge):
    limit = int(current_app.config["CONSOLE_UPLOAD_BYTES"]) // 1024
    return _page(
        _("The file or form is too large (at most %(kb)d KB). Nothing was changed.", kb=limit), 413, _("Too large")
    )


def too_many(_error: RateLimitExceeded):
    """The same answer whatever the account: too many attempts from this network, for a while."""
    return _page(
        _("Too many sign-in attempts from your network. Please wait a few minutes and try again."),
        429,
        _("Too many attempts"),
    )


def conflict(error: Exception):
    """Another editor (or the scheduler) changed the edition first: show it, nothing was done."""
    return _page(
        _(
            "Someone else changed this edition first (%(detail)s). Nothing was done; reload the "
            "edition to see its state.",
            detail=str(error),
        ),
        409,
        _("The edition changed"),
    )


bp.register_error_handler(CSRFError, csrf_failed)
bp.register_error_handler(Forbidden, forbidden)
bp.register_error_handler(NotFound, not_found)
bp.register_error_handler(RequestEntityTooLarge, too_large)
bp.register_error_handler(editions.EditionConflict, conflict)
bp.register_error_handler(RateLimitExceeded, too_many)
