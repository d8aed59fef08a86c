"""Signed tokens, one salt per purpose, and the subscriber links built from them."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
SALTS = {purpose: f"newsletter.{purpose}.v1" for purpose in (CONFIRM, UNSUBSCRIBE, PREFERENCES)}


class TokenInvalid(Exception):
    """Tampered, truncated, or made for another purpose."""


class TokenExpired(TokenInvalid):
    """Genuine but older than its purpose allows."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALTS[purpose])


def address_fingerprint(email: str) -> str:
    """A short keyed digest tying a token to one address, so a reused row id never matches someone else.

    Keyed with SECRET_KEY: token payloads are only signed, not encrypted, so a plain hash of the
    address could be checked against a guessed address by anyone holding a link.
    """
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, email.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def make_token(purpose: str, payload: list | dict) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: timedelta | None = None) -> list | dict:
    """Return the payload, or raise TokenExpired / TokenInvalid."""
    seconds = int(max_age.total_seconds()) if max_age else None
    try:
        return _serializer(purpose).loads(token, max_age=seconds)
    except SignatureExpired as error:
        raise TokenExpired(str(error)) from error
    except (BadSignature, ValueError, TypeError, UnicodeError) as error:
        raise TokenInvalid(str(error)) from error


def confirm_max_age() -> timedelta:
    return timedelta(days=float(current_app.config["CONFIRM_MAX_AGE_DAYS"]))


@dataclass(frozen=True)
class SubscriberLinks:
    unsubscribe: str
    preferences: str
    unsubscribe_mailto: str


def subscriber_links(subscriber_id: int, email: str) -> SubscriberLinks:
    """The personal links every digest carries (paths served by the subscriptions blueprint)."""
    base = current_app.config["BASE_URL"]
    payload = [subscriber_id, address_fingerprint(email)]
    unsubscribe_token = make_token(UNSUBSCRIBE, payload)
    mail_domain = current_app.config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> ")
    return SubscriberLinks(
        unsubscribe=f"{base}/unsubscribe/{unsubscribe_token}",
        preferences=f"{base}/preferences/{make_token(PREFERENCES, payload)}",
        unsubscribe_mailto=f"mailto:unsubscribe@{mail_domain}?subject=unsubscribe%20{unsubscribe_token}",
    )
