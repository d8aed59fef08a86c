"""Consent records: evidence of each opt-in, from the request to the confirming click."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from newsletter.core.extensions import db
from newsletter.core.request_text import MAX_PAGE_LENGTH, MAX_USER_AGENT_LENGTH, recorded_text
from newsletter.models import Consent, Subscriber, utcnow

FORM = "form"
API = "api"
IMPORT = "import"
PREFERENCES = "preferences"
MAX_IP_LENGTH = 45


@dataclass(frozen=True)
class RequestOrigin:
    """Where a subscription request came from, as stored in its consent record."""

    source: str
    page: str | None = None
    ip: str | None = None
    user_agent: str | None = None


def stored_ip(raw: str | None) -> str | None:
    """The client address in its normal form, or None when it is not an IP address that fits the column."""
    try:
        address = str(ipaddress.ip_address((raw or "").strip()))
    except ValueError:
        return None
    return address if len(address) <= MAX_IP_LENGTH else None


def record_request(subscriber: Subscriber, languages: list[str], origin: RequestOrigin, text_version: str) -> Consent:
    """A new, unconfirmed consent record for these languages, given under the consent text `text_version`."""
    consent = Consent(
        subscriber=subscriber,
        languages=" ".join(languages),
        source=origin.source,
        source_page=recorded_text(origin.page, MAX_PAGE_LENGTH),
        consent_text_version=text_version,
        requested_at=utcnow(),
        request_ip=stored_ip(origin.ip),
        user_agent=recorded_text(origin.user_agent, MAX_USER_AGENT_LENGTH),
    )
    db.session.add(consent)
    return consent


def record_confirmation(consent: Consent, ip: str | None, user_agent: str | None) -> None:
    consent.confirmed_at = utcnow()
    consent.confirm_ip = stored_ip(ip)
    consent.confirm_user_agent = recorded_text(user_agent, MAX_USER_AGENT_LENGTH)


def consent_languages(consent: Consent) -> list[str]:
    return consent.languages.split()


def superseded_by_unsubscribe(consent: Consent) -> bool:
    """The request was made before its subscriber last unsubscribed, so it no longer stands."""
    left_since = consent.subscriber.unsubscribed_at
    return left_since is not None and consent.requested_at < left_since
