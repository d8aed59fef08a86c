"""Subscription pages: the form, and the signed confirm, unsubscribe and preferences links."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError

from newsletter.core import rate_limits, tokens
from newsletter.core.addresses import masked
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import csrf, db
from newsletter.core.i18n import current_language
from newsletter.core.settings import settings_of
from newsletter.models.subscribers import CONFIRMED, UNSUBSCRIBED
from newsletter.subscribers import subscriptions
from newsletter.subscribers.consent import FORM, PREFERENCES, RequestOrigin
from newsletter.web import handle_http_error

log = logging.getLogger(__name__)
bp = Blueprint("subscriptions", __name__)
HONEYPOT_FIELD = "website"


def _form_page(errors: dict | None = None, email: str = "", chosen: list[str] | None = None, status: int = 200):
    chosen = chosen if chosen is not None else [current_language()]
    page = render_template(
        "pages/subscribe.html",
        errors=errors or {},
        email=email,
        chosen=chosen,
        honeypot_field=HONEYPOT_FIELD,
    )
    return page, status


@bp.get("/subscribe")
def subscribe_form():
    return _form_page()


@bp.post("/subscribe")
@rate_limits.limit(rate_limits.SUBSCRIBE)
def subscribe_submit():
    if request.form.get(HONEYPOT_FIELD):
        log.info("form submission dropped by the honeypot")
        return _check_your_inbox()
    email = request.form.get("email", "")
    chosen = request.form.getlist("languages")
    page = request.form.get("page") or request.referrer or request.url
    origin = RequestOrigin(FORM, page, request.remote_addr, request.user_agent.string)
    try:
        subscription = subscriptions.build_request(
            email, chosen, current_language(), origin, smtp_utf8=settings_of(current_app).mail.smtp_utf8
        )
    except subscriptions.InvalidSubscription as error:
        return _form_page(error.errors, email if isinstance(email, str) else "", chosen, 422)
    subscriptions.subscribe(subscription, settings_of(current_app))
    return _check_your_inbox()


def _check_your_inbox():
    """Post, redirect, get: refreshing the "check your inbox" page sends nothing again."""
    return redirect(url_for("subscriptions.subscribe_sent", lang=current_language()), 303)


@bp.get("/subscribe/sent")
def subscribe_sent():
    return render_template("pages/subscribe_sent.html")


@bp.errorhandler(RateLimitExceeded)
def too_many_requests(error: RateLimitExceeded):
    """The form says so inline, with its fields kept; other pages get the app's 429 page."""
    if request.endpoint != "subscriptions.subscribe_submit":
        return handle_http_error(error)
    errors = {"form": _l("Too many sign-ups from your network just now. Please wait a few minutes and try again.")}
    return _form_page(errors, request.form.get("email", ""), request.form.getlist("languages"), 429)


@bp.errorhandler(CSRFError)
def form_expired(_error):
    if request.endpoint != "subscriptions.subscribe_submit":
        return render_template("pages/error.html", code=400, message=_l("The request could not be understood.")), 400
    errors = {"form": _l("The form had expired. Please check your choices and send it again.")}
    return _form_page(errors, request.form.get("email", ""), request.form.getlist("languages"), 400)


def _answer_in_language(language: str) -> None:
    """Render the rest of this response in the subscriber's language unless ?lang= asks otherwise."""
    g.forced_language = language
    refresh()


def _link_error(error: tokens.TokenInvalid):
    db.session.rollback()
    if isinstance(error, subscriptions.LinkUsed):
        status, message = 410, _l("This link has already been used. If it was you, your subscription is confirmed.")
    elif isinstance(error, tokens.TokenExpired):
        status, message = 410, _l("This link has expired. Please subscribe again to get a new one.")
    elif isinstance(error, subscriptions.LinkGone):
        status, message = 410, _l("This link no longer works. You can subscribe again at any time.")
    else:
        status, message = 400, _l("This link is not valid. It may have been cut short when it was copied.")
    return render_template("pages/link_error.html", message=message), status


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@csrf.exempt
@rate_limits.limit(rate_limits.CONFIRM)
def confirm_link(token: str):
    """GET only shows a page that confirms by POST, so link scanners change nothing."""
    try:
        if request.method != "POST":
            consent = subscriptions.consent_for_token(token, settings_of(current_app))
            if consent.confirmed_at is not None:
                raise subscriptions.LinkUsed("already confirmed", consent.subscriber)
            _answer_in_language(consent.subscriber.locale)
            db.session.rollback()
            return render_template("pages/confirm.html", token=token)
        subscriber = subscriptions.confirm(
            token, request.remote_addr, request.user_agent.string, settings_of(current_app)
        )
    except subscriptions.LinkUsed as used:
        if used.subscriber is None or used.subscriber.status != CONFIRMED:
            return _link_error(used)
        return _subscribed_page(used.subscriber, again=True)
    except tokens.TokenInvalid as error:
        return _link_error(error)
    return _subscribed_page(subscriber, again=False)


def _subscribed_page(subscriber, again: bool):
    """Confirmed (or confirmed before: opening the link again is no error), with the way to preferences."""
    _answer_in_language(subscriber.locale)
    links = tokens.subscriber_links(settings_of(current_app), subscriber.id, subscriber.email)
    languages = subscriptions.languages_in_reader_order(subscriber)
    page = render_template("pages/confirmed.html", languages=languages, again=again, preferences_url=links.preferences)
    db.session.rollback()
    return page


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
@rate_limits.limit(rate_limits.UNSUBSCRIBE)
def unsubscribe_link(token: str):
    """One button on GET; any POST (RFC 8058 one-click included) unsubscribes at once with a 200."""
    try:
        subscriber = subscriptions.subscriber_for_link(
            tokens.UNSUBSCRIBE, token, settings_of(current_app).site.secret_key
        )
    except tokens.TokenInvalid as error:
        return _link_error(error)
    _answer_in_language(subscriber.locale)
    if request.method == "POST":
        subscriptions.unsubscribe(subscriber)
    if subscriber.status == UNSUBSCRIBED:
        return render_template("pages/unsubscribed.html")
    preferences = tokens.subscriber_links(settings_of(current_app), subscriber.id, subscriber.email).preferences
    return render_template(
        "pages/unsubscribe.html", token=token, address=masked(subscriber.email), preferences_url=preferences
    )


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@csrf.exempt
@rate_limits.limit(rate_limits.PREFERENCES)
def preferences_link(token: str):
    try:
        subscriber = subscriptions.subscriber_for_link(
            tokens.PREFERENCES, token, settings_of(current_app).site.secret_key
        )
    except tokens.TokenInvalid as error:
        return _link_error(error)
    _answer_in_language(subscriber.locale)
    errors, saved, status = {}, False, 200
    if request.method == "POST" and request.form.get("action") == "unsubscribe":
        subscriptions.unsubscribe(subscriber)
        return render_template("pages/unsubscribed.html")
    chosen = [row.language for row in subscriber.languages]
    if request.method == "POST" and subscriber.status != UNSUBSCRIBED:
        chosen = request.form.getlist("languages")
        try:
            page = f"{request.url_root}preferences"
            origin = RequestOrigin(PREFERENCES, page, request.remote_addr, request.user_agent.string)
            version = settings_of(current_app).privacy.consent_text_version
            subscriptions.change_languages(subscriber, chosen, origin, version)
            saved = True
        except subscriptions.InvalidSubscription as error:
            errors, status = error.errors, 422
    page = render_template(
        "pages/preferences.html",
        token=token,
        address=masked(subscriber.email),
        chosen=chosen,
        errors=errors,
        saved=saved,
        all_languages=LANGUAGES,
        unsubscribed=subscriber.status == UNSUBSCRIBED,
    )
    return page, status
