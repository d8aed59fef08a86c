"""Subscriptions: double opt-in, confirmation, language changes, unsubscribing, purging stale requests.

The web form, the JSON API and the CLI all call these functions; they never reveal an address's state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, Delete, delete, func, select
from sqlalchemy.exc import IntegrityError

from newsletter.core import rate_limits, tokens
from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.config import LANGUAGES
from newsletter.core.database import id_chunks
from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.delivery import ledger
from newsletter.models import Consent, Subscriber, SubscriberLanguage, utcnow
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from newsletter.subscribers import mailboxes, suppression
from newsletter.subscribers.confirmation_mail import (
    queue_already_subscribed,
    queue_confirmation,
    queue_unsubscribe_link,
)
from newsletter.subscribers.consent import (
    RequestOrigin,
    consent_languages,
    record_confirmation,
    record_request,
    superseded_by_unsubscribe,
)

log = logging.getLogger(__name__)


class InvalidSubscription(ValueError):
    """The request was rejected; `errors` maps each bad field to a lazy, translated message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


class LinkUsed(tokens.TokenInvalid):
    """A genuine confirmation link that was already followed; `subscriber` is whom it confirmed."""

    def __init__(self, message: str, subscriber: Subscriber | None = None) -> None:
        super().__init__(message)
        self.subscriber = subscriber


class LinkGone(tokens.TokenInvalid):
    """A genuine link whose subscriber or request no longer exists."""


@dataclass(frozen=True)
class SubscriptionRequest:
    email: str
    languages: list[str]
    locale: str
    origin: RequestOrigin


def clean_languages(raw: object) -> list[str]:
    """Known language codes in the order the reader gave them, or InvalidSubscription for the `languages` field."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InvalidSubscription({"languages": _l("Choose at least one language.")})
    if not all(isinstance(code, str) and code in LANGUAGES for code in raw):
        message = _l("Choose languages from Belarusian (be), Russian (ru) and English (en).")
        raise InvalidSubscription({"languages": message})
    if len(set(raw)) != len(raw):
        raise InvalidSubscription({"languages": _l("Choose each language once.")})
    return list(raw)


def build_request(
    email: object, languages: object, locale: str | None, origin: RequestOrigin, *, smtp_utf8: bool
) -> SubscriptionRequest:
    """Validate both fields at once; raise InvalidSubscription with a message per bad field."""
    errors: dict[str, str] = {}
    address, chosen = "", []
    try:
        address = normalise_address(email, smtp_utf8=smtp_utf8)
    except InvalidAddress as error:
        errors["email"] = error.message
    try:
        chosen = clean_languages(languages)
    except InvalidSubscription as error:
        errors.update(error.errors)
    if errors:
        raise InvalidSubscription(errors)
    first_in_catalogue = next(code for code in LANGUAGES if code in chosen)
    return SubscriptionRequest(address, chosen, locale if locale in LANGUAGES else first_in_catalogue, origin)


def subscribe(request: SubscriptionRequest, settings: Settings) -> None:
    """Start or renew a double opt-in; the outcome is the same for the caller whatever the address's state."""
    for attempt in range(3):
        try:
            subscriber_id = _subscribe_once(request, settings)
            db.session.commit()
            if subscriber_id is not None:
                log.info("subscription request for subscriber %s (%s)", subscriber_id, request.origin.source)
            return
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise


def _subscribe_once(request: SubscriptionRequest, settings: Settings) -> int | None:
    """Queue one email per request and resend window, whatever the state; render nothing here.

    Over the per-address or overall email limits, nothing is written and nothing is sent.
    Every state does the same kind of work (a lookup, a few inserts, one delivery row, a commit),
    so the response time does not tell whether the address is subscribed.
    """
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == request.email).with_for_update())
    secret = settings.site.secret_key
    if subscriber is not None and _recently_answered(subscriber, settings):
        return None
    mailbox = mailboxes.lock(request.email, secret)
    resend_window = timedelta(seconds=settings.privacy.confirm_resend_seconds)
    if mailboxes.mailed_within(mailbox, resend_window) or not rate_limits.mail_allowed(request.email, secret):
        return None
    if subscriber is None:  # a new row: perhaps an erased person back, whose suppression entry is a hash
        suppression.recognise(request.email, secret)
        subscriber = Subscriber(email=request.email, status=PENDING, locale=request.locale, created_at=utcnow())
        db.session.add(subscriber)
    if subscriber.status == CONFIRMED and set(request.languages) <= set(subscriber.confirmed_languages):
        queue_already_subscribed(subscriber)
    else:
        # A confirmed or unsubscribed row keeps its status until its owner clicks: a stranger's request
        # never makes an unsubscribed row pending, which purge-pending would delete with its history.
        _replace_pending_languages(subscriber, request.languages)
        subscriber.locale = request.locale
        version = settings.privacy.consent_text_version
        queue_confirmation(subscriber, record_request(subscriber, request.languages, request.origin, version))
    mailboxes.mark_mailed(mailbox, request.email, secret)
    db.session.flush()
    return subscriber.id


def request_unsubscribe_link(address: str, settings: Settings) -> None:
    """Email a subscribed address its unsubscribe link; the caller's answer is the same whatever happened.

    Nothing is sent to an unknown or unsubscribed address, nor within the mailbox's resend window or over
    the email limits that protect every mailbox from being mail-bombed through this form.
    """
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address).with_for_update())
    if subscriber is None or subscriber.status == UNSUBSCRIBED or _recently_answered(subscriber, settings):
        db.session.commit()
        return
    secret = settings.site.secret_key
    mailbox = mailboxes.lock(address, secret)
    resend_window = timedelta(seconds=settings.privacy.confirm_resend_seconds)
    if not mailboxes.mailed_within(mailbox, resend_window) and rate_limits.mail_allowed(address, secret):
        queue_unsubscribe_link(subscriber)
        mailboxes.mark_mailed(mailbox, address, secret)
        log.info("unsubscribe link requested for subscriber %s", subscriber.id)
    try:
        db.session.commit()
    except IntegrityError:  # another spelling of this mailbox was answered at the same moment
        db.session.rollback()


def _recently_answered(subscriber: Subscriber, settings: Settings) -> bool:
    """An email answering a request (confirmation or already-subscribed notice) was queued within the window."""
    if subscriber.request_mail_queued_at is None:
        return False
    window = timedelta(seconds=settings.privacy.confirm_resend_seconds)
    return utcnow() - subscriber.request_mail_queued_at < window


def _replace_pending_languages(subscriber: Subscriber, languages: list[str]) -> None:
    """Unconfirmed languages become exactly the requested ones not already confirmed."""
    confirmed = set(subscriber.confirmed_languages)
    for row in list(subscriber.languages):
        if row.confirmed_at is None and row.language not in languages:
            subscriber.languages.remove(row)
    present = {row.language for row in subscriber.languages}
    for code in languages:
        if code not in present and code not in confirmed:
            subscriber.languages.append(SubscriberLanguage(language=code, requested_at=utcnow()))


def confirm(token: str, ip: str | None, user_agent: str | None, settings: Settings) -> Subscriber:
    """Follow a confirmation link once; raises TokenInvalid, TokenExpired, LinkUsed or LinkGone."""
    consent = consent_for_token(token, settings)
    if consent.confirmed_at is not None:
        raise LinkUsed("already confirmed", consent.subscriber)
    subscriber = consent.subscriber
    now = utcnow()
    record_confirmation(consent, ip, user_agent)
    present = {row.language: row for row in subscriber.languages}
    for code in consent_languages(consent):
        row = present.get(code)
        if row is None:
            row = SubscriberLanguage(language=code, requested_at=consent.requested_at, confirmed_at=now)
            subscriber.languages.append(row)
        elif row.confirmed_at is None:
            row.confirmed_at = now
    if subscriber.status != CONFIRMED:
        subscriber.status, subscriber.confirmed_at, subscriber.unsubscribed_at = CONFIRMED, now, None
    db.session.commit()
    log.info("subscriber %s confirmed consent %s", subscriber.id, consent.id)
    return subscriber


def languages_in_reader_order(subscriber: Subscriber) -> list[str]:
    """The confirmed languages in the order the reader chose them (their latest request first)."""
    confirmed = set(subscriber.confirmed_languages)
    ordered: list[str] = []
    for consent in sorted(subscriber.consents, key=lambda row: row.id, reverse=True):
        ordered += [code for code in consent_languages(consent) if code in confirmed and code not in ordered]
    return ordered + [code for code in subscriber.confirmed_languages if code not in ordered]


def consent_for_token(token: str, settings: Settings) -> Consent:
    """The unexpired consent a confirmation token points at (used or not)."""
    secret = settings.site.secret_key
    payload = tokens.read_token(secret, tokens.CONFIRM, token, max_age=settings.privacy.confirm_max_age)
    consent_id, fingerprint = _id_and_fingerprint(payload)
    consent = db.session.get(Consent, consent_id, with_for_update=True)
    if consent is None or not _fingerprint_matches(consent.subscriber, fingerprint, secret):
        raise LinkGone("no such request")
    if consent.confirmed_at is None and superseded_by_unsubscribe(consent):
        raise LinkGone("request made before unsubscribing")
    return consent


def subscriber_for_link(purpose: str, token: str, secret: str) -> Subscriber:
    """The subscriber an unsubscribe or preferences token was made for, and only that one."""
    subscriber_id, fingerprint = _id_and_fingerprint(tokens.read_token(secret, purpose, token))
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or not _fingerprint_matches(subscriber, fingerprint, secret):
        raise LinkGone("no such subscriber")
    return subscriber


def _fingerprint_matches(subscriber: Subscriber, fingerprint: str, secret: str) -> bool:
    return tokens.fingerprint_matches(secret, fingerprint, subscriber.email, subscriber.former_fingerprint)


def _id_and_fingerprint(payload: object) -> tuple[int, str]:
    """A link token's payload: the row id and the address fingerprint it was made for (TokenInvalid otherwise)."""
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], int)
        or not isinstance(payload[1], str)
    ):
        raise tokens.TokenInvalid("unexpected payload")
    return payload[0], payload[1]


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop every language at once; repeating it changes nothing."""
    if subscriber.status == UNSUBSCRIBED:
        return
    subscriber.status, subscriber.unsubscribed_at = UNSUBSCRIBED, utcnow()
    subscriber.languages.clear()
    db.session.commit()
    log.info("subscriber %s unsubscribed", subscriber.id)


def change_languages(subscriber: Subscriber, languages: object, origin: RequestOrigin, text_version: str) -> None:
    """Set the languages from the signed preferences page (the link itself proves the mailbox).

    Languages a confirmed subscriber adds there are confirmed at once, with a consent record
    (source "preferences") confirmed in the same request.
    """
    chosen = clean_languages(languages)
    now = utcnow()
    for old in list(subscriber.languages):
        if old.language not in chosen:
            subscriber.languages.remove(old)
    present = {row.language: row for row in subscriber.languages}
    confirmed_at = now if subscriber.status == CONFIRMED else None
    added = [code for code in chosen if present.get(code) is None or present[code].confirmed_at is None]
    for code in chosen:
        row = present.get(code)
        if row is None:
            subscriber.languages.append(SubscriberLanguage(language=code, requested_at=now, confirmed_at=confirmed_at))
        elif row.confirmed_at is None:
            row.confirmed_at = confirmed_at
    if added and confirmed_at is not None:
        consent = record_request(subscriber, added, origin, text_version)
        record_confirmation(consent, origin.ip, origin.user_agent)
    db.session.commit()
    log.info("subscriber %s changed languages", subscriber.id)


@dataclass(frozen=True)
class PurgeResult:
    subscribers: int
    languages: int
    consents: int


def _delete_count(statement: Delete) -> int:
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)  # a DELETE's result is a CursorResult


def purge_pending(max_age: timedelta, now: datetime | None = None) -> PurgeResult:
    """Delete requests never confirmed within the confirmation window `max_age`: exactly the subscribers locked
    as stale (one evaluation), so one confirmed meanwhile is kept whole."""
    cutoff = (now or utcnow()) - max_age
    last_request = func.coalesce(Subscriber.request_mail_queued_at, Subscriber.created_at)
    stale = ledger.forget_subscribers(select(Subscriber.id).where(Subscriber.status == PENDING, last_request < cutoff))
    removed_languages = _delete_count(
        delete(SubscriberLanguage).where(
            SubscriberLanguage.confirmed_at.is_(None), SubscriberLanguage.requested_at < cutoff
        )
    )
    removed_consents = _delete_count(
        delete(Consent).where(Consent.confirmed_at.is_(None), Consent.requested_at < cutoff)
    )
    mailboxes.forget_before(cutoff)
    removed = 0
    for chunk in id_chunks(stale):
        removed_languages += _delete_count(
            delete(SubscriberLanguage).where(SubscriberLanguage.subscriber_id.in_(chunk))
        )
        removed_consents += _delete_count(delete(Consent).where(Consent.subscriber_id.in_(chunk)))
        removed += _delete_count(delete(Subscriber).where(Subscriber.id.in_(chunk)))
    db.session.commit()
    return PurgeResult(removed, removed_languages, removed_consents)
