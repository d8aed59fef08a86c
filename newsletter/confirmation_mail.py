"""The confirmation email: rendered in the visitor's language and queued in the caller's transaction."""
from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from . import tokens
from .delivery.compose import build_message
from .delivery.ledger import enqueue_transactional
from .i18n import LANGUAGE_NAMES
from .models import Consent, Subscriber, utcnow
from .rendering import render_email


def confirm_url(consent: Consent, subscriber: Subscriber) -> str:
    token = tokens.make_token(tokens.CONFIRM, [consent.id, tokens.address_fingerprint(subscriber.email)])
    return f"{current_app.config['BASE_URL']}/confirm/{token}?lang={subscriber.locale}"


def queue_confirmation(subscriber: Subscriber, consent: Consent) -> None:
    """Build the message for this consent and add it to the ledger (committed by the caller)."""
    languages = consent.languages.split()
    with force_locale(subscriber.locale):
        context = {
            "publication": current_app.config["PUBLICATION_NAME"],
            "confirm_url": confirm_url(consent, subscriber),
            "language_names": [LANGUAGE_NAMES[code] for code in languages],
            "max_age_days": int(float(current_app.config["CONFIRM_MAX_AGE_DAYS"])),
            "locale": subscriber.locale,
        }
        subject = _("Please confirm your subscription to %(publication)s", publication=context["publication"])
        html, text = render_email("confirmation", subject=subject, **context)
        message = build_message(to=subscriber.email, subject=subject, text=text, html=html)
    enqueue_transactional(subscriber.id, message)
    subscriber.confirmation_sent_at = utcnow()
