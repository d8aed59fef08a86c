"""Unsubscribing by address, for a reader whose unsubscribe link is broken or expired.

The form sends the address's own unsubscribe link by email (one click from there) and answers the same
whatever the address's state, so it reveals nothing and unsubscribes no one by itself.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from newsletter.core import rate_limits
from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.i18n import current_language
from newsletter.core.settings import settings_of
from newsletter.subscribers import subscriptions

bp = Blueprint("address_unsubscribe", __name__, url_prefix="/unsubscribe-by-address")


@bp.get("")
def form():
    return render_template("pages/unsubscribe_by_address.html", errors={}, email="")


@bp.post("")
@rate_limits.limit(rate_limits.UNSUBSCRIBE)
def submit():
    email = request.form.get("email", "")
    try:
        address = normalise_address(email, smtp_utf8=settings_of(current_app).mail.smtp_utf8)
    except InvalidAddress as error:
        page = render_template("pages/unsubscribe_by_address.html", errors={"email": error.message}, email=email)
        return page, 422
    subscriptions.request_unsubscribe_link(address, settings_of(current_app))
    return redirect(url_for("address_unsubscribe.sent", lang=current_language()), 303)


@bp.get("/sent")
def sent():
    return render_template("pages/unsubscribe_by_address_sent.html")
