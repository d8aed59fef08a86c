"""The emails that answer a subscription request: queued by the request, rendered by the worker when it sends.

The request only adds a delivery row referencing the subscriber (and, for a confirmation, the consent);
nothing is rendered or built there, so the request costs the same whatever the address's state.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _

from newsletter.core import mail_templates as rendering
from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.core.i18n import languages_phrase
from newsletter.core.settings import Settings
from newsletter.delivery.claims import Job
from newsletter.delivery.compose import build_message, transactional_message_id
from newsletter.delivery.ledger import NothingToRender, enqueue_transactional, register_transactional_renderer
from newsletter.models import Consent, Subscriber, utcnow
from newsletter.models.delivery import DeliveryKind
from newsletter.models.subscribers import CONFIRMED, UNSUBSCRIBED
from newsletter.subscribers.consent import consent_languages, superseded_by_unsubscribe


def init_app(app: Flask) -> None:
    """Let the worker render this module's kinds of transactional mail."""
    register_transactional_renderer(DeliveryKind.CONFIRMATION, render_confirmation)
    register_transactional_renderer(DeliveryKind.ALREADY_SUBSCRIBED, render_already_subscribed)
    register_transactional_renderer(DeliveryKind.UNSUBSCRIBE_LINK, render_unsubscribe_link)


def queue_confirmation(subscriber: Subscriber, consent: Consent) -> None:
    """Queue the confirmation of this consent (committed by the caller)."""
    enqueue_transactional(subscriber, kind=DeliveryKind.CONFIRMATION, consent=consent)
    subscriber.request_mail_queued_at = utcnow()


def queue_already_subscribed(subscriber: Subscriber) -> None:
    """Queue the notice for a confirmed subscriber asking again for languages they have (committed by the caller)."""
    enqueue_transactional(subscriber, kind=DeliveryKind.ALREADY_SUBSCRIBED)
    subscriber.request_mail_queued_at = utcnow()


def confirm_url(consent: Consent, subscriber: Subscriber, settings: Settings) -> str:
    secret = settings.site.secret_key
    token = tokens.make_token(
        secret, tokens.CONFIRM, [consent.id, tokens.address_fingerprint(secret, subscriber.email)]
    )
    return f"{settings.site.base_url}/confirm/{token}?lang={subscriber.locale}"


def render_confirmation(delivery: Job, settings: Settings) -> bytes:
    """The confirmation email of the delivery's consent, in the subscriber's locale."""
    subscriber = _subscriber_of(delivery)
    consent = db.session.get(Consent, delivery.consent_id) if delivery.consent_id is not None else None
    if consent is None or consent.subscriber_id != subscriber.id:
        raise NothingToRender("its consent record no longer exists (purged or erased)")
    if superseded_by_unsubscribe(consent):
        raise NothingToRender("the subscriber unsubscribed after this request")
    with force_locale(subscriber.locale):
        context = {
            "confirm_url": confirm_url(consent, subscriber, settings),
            "languages": languages_phrase(consent_languages(consent)),
            "max_age_days": settings.privacy.confirm_max_age.days,
        }
        publication = settings.site.publication_name
        subject = _("Please confirm your subscription to %(publication)s", publication=publication)
        return _build(delivery, subscriber, "confirmation", subject, context, settings)


def render_already_subscribed(delivery: Job, settings: Settings) -> bytes:
    """A short "you are already subscribed" notice with the subscriber's preferences link, in their locale."""
    subscriber = _subscriber_of(delivery)
    if subscriber.status != CONFIRMED:
        raise NothingToRender("the subscriber is no longer subscribed")
    links = tokens.subscriber_links(settings, subscriber.id, subscriber.email)
    with force_locale(subscriber.locale):
        context = {
            "preferences_url": links.preferences,
            "languages": languages_phrase(subscriber.confirmed_languages),
        }
        publication = settings.site.publication_name
        subject = _("You are already subscribed to %(publication)s", publication=publication)
        return _build(delivery, subscriber, "already_subscribed", subject, context, settings)


def queue_unsubscribe_link(subscriber: Subscriber) -> None:
    """Queue an email with the subscriber's unsubscribe link, asked for by address (committed by the caller)."""
    enqueue_transactional(subscriber, kind=DeliveryKind.UNSUBSCRIBE_LINK)
    subscriber.request_mail_queued_at = utcnow()


def render_unsubscribe_link(delivery: Job, settings: Settings) -> bytes:
    """The one-click unsubscribe link, for a reader whose own link was broken or expired."""
    subscriber = _subscriber_of(delivery)
    if subscriber.status == UNSUBSCRIBED:
        raise NothingToRender("the subscriber has unsubscribed already")
    links = tokens.subscriber_links(settings, subscriber.id, subscriber.email)
    with force_locale(subscriber.locale):
        subject = _("Unsubscribe from %(publication)s", publication=settings.site.publication_name)
        context = {"unsubscribe_url": links.unsubscribe}
        return _build(delivery, subscriber, "unsubscribe_link", subject, context, settings)


def _subscriber_of(delivery: Job) -> Subscriber:
    subscriber = db.session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id is not None else None
    if subscriber is None:
        raise NothingToRender("its subscriber no longer exists (erased or purged)")
    return subscriber


def _build(
    delivery: Job,
    subscriber: Subscriber,
    template: str,
    subject: str,
    context: Mapping[str, object],
    settings: Settings,
) -> bytes:
    html, text = rendering.render_email(
        template, subject=subject, publication=settings.site.publication_name, locale=subscriber.locale, **context
    )
    return build_message(
        mail_from=settings.mail.mail_from,
        to=subscriber.email,
        subject=subject,
        text=text,
        html=html,
        message_id=transactional_message_id(delivery.delivery_id, settings),
    )
