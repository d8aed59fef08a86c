"""Signed tokens, one salt per purpose, and the subscriber links built from them."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
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


def fingerprint_matches(fingerprint: str, email: str, former: str | None = None) -> bool:
    """The token's fingerprint is this address's, or the one its links carried before the address was normalised."""
    current = hmac.compare_digest(fingerprint, address_fingerprint(email))
    return current or (former is not None and hmac.compare_digest(fingerprint, former))


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


class LinkSigner:
    """Signs subscribers' personal links (paths served by the subscriptions blueprint).

    Build it once and reuse it: the delivery worker signs a pair of links for every message, and the
    signers, key derivation included, are made here only once. The tokens are exactly `make_token`'s.
    """

    def __init__(self):
        config = current_app.config
        self.base = config["BASE_URL"]
        self.mail_domain = config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> ")
        self._signers = {purpose: _serializer(purpose).make_signer() for purpose in (UNSUBSCRIBE, PREFERENCES)}

    def _token(self, purpose: str, payload: bytes) -> str:
        return self._signers[purpose].sign(payload).decode("ascii")

    def links(self, subscriber_id: int, email: str) -> SubscriberLinks:
        compact = json.dumps([subscriber_id, address_fingerprint(email)], separators=(",", ":")).encode("utf-8")
        payload = base64.urlsafe_b64encode(compact).rstrip(b"=")
        unsubscribe = self._token(UNSUBSCRIBE, payload)
        return SubscriberLinks(
            unsubscribe=f"{self.base}/unsubscribe/{unsubscribe}",
            preferences=f"{self.base}/preferences/{self._token(PREFERENCES, payload)}",
            unsubscribe_mailto=f"mailto:unsubscribe@{self.mail_domain}?subject=unsubscribe%20{unsubscribe}",
        )


def subscriber_links(subscriber_id: int, email: str) -> SubscriberLinks:
    """The personal links every digest carries, for one subscriber."""
    return LinkSigner().links(subscriber_id, email)
