"""Signed tokens, one salt per purpose, and the subscriber links built from them."""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes

from newsletter.core.settings import Settings

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
SALTS = {purpose: f"newsletter.{purpose}.v1" for purpose in (CONFIRM, UNSUBSCRIBE, PREFERENCES)}

TokenPayload = list[Any] | dict[str, Any]
"""What a token carries: a small JSON list or object (ids, a fingerprint, a timestamp)."""


class TokenInvalid(Exception):
    """Tampered, truncated, or made for another purpose."""


class TokenExpired(TokenInvalid):
    """Genuine but older than its purpose allows."""


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALTS[purpose])


def address_fingerprint(secret: str, email: str) -> str:
    """A short keyed digest tying a token to one address, so a reused row id never matches someone else.

    Keyed with SECRET_KEY: token payloads are only signed, not encrypted, so a plain hash of the
    address could be checked against a guessed address by anyone holding a link.
    """
    return _fingerprint(secret.encode("utf-8"), email)


def _fingerprint(key: bytes, email: str) -> str:
    return hmac.digest(key, email.encode("utf-8"), "sha256").hex()[:16]


def fingerprint_matches(secret: str, fingerprint: str, email: str, former: str | None = None) -> bool:
    """The token's fingerprint is this address's, or the one its links carried before the address was normalised."""
    current = hmac.compare_digest(fingerprint, address_fingerprint(secret, email))
    return current or (former is not None and hmac.compare_digest(fingerprint, former))


def make_token(secret: str, purpose: str, payload: TokenPayload) -> str:
    return str(_serializer(secret, purpose).dumps(payload))


def read_token(secret: str, purpose: str, token: str, max_age: timedelta | None = None) -> TokenPayload:
    """Return the payload, or raise TokenExpired / TokenInvalid."""
    seconds = int(max_age.total_seconds()) if max_age else None
    try:
        payload: TokenPayload = _serializer(secret, purpose).loads(token, max_age=seconds)
        return payload
    except SignatureExpired as error:
        raise TokenExpired(str(error)) from error
    except (BadSignature, ValueError, TypeError, UnicodeError) as error:
        raise TokenInvalid(str(error)) from error


@dataclass(frozen=True)
class SubscriberLinks:
    unsubscribe: str
    preferences: str
    unsubscribe_mailto: str


class LinkSigner:
    """Signs subscribers' personal links (paths served by the subscriptions blueprint).

    Build it once and reuse it: the delivery worker signs a pair of links for every message. The tokens are
    exactly `make_token`'s (itsdangerous's timed signer), but made here with the signer's key derived once,
    the timestamp encoded once a second and each HMAC computed in one call to OpenSSL: itsdangerous derives
    the key again and builds its HMAC in Python for every token, 20 µs a token, a tenth of what a worker
    thread spends on a message.
    """

    def __init__(self, settings: Settings):
        self.base = settings.site.base_url
        self.mail_domain = settings.mail.mail_from.rsplit("@", 1)[-1].strip("> ")
        secret = settings.site.secret_key
        self._fingerprint_key = secret.encode("utf-8")
        self._signers = {purpose: _serializer(secret, purpose).make_signer() for purpose in (UNSUBSCRIBE, PREFERENCES)}
        self._keys = {purpose: signer.derive_key() for purpose, signer in self._signers.items()}
        self._digest = {purpose: signer.digest_method().name for purpose, signer in self._signers.items()}
        self._separator = {purpose: want_bytes(signer.sep) for purpose, signer in self._signers.items()}
        self._second = (-1, b"")
        # Should itsdangerous (or the serializer's settings) ever sign otherwise, its own signer is used.
        self._own_hmac = all(
            self._signature(purpose, b"probe") == signer.get_signature(b"probe")
            for purpose, signer in self._signers.items()
        )

    def _timestamp(self) -> bytes:
        now = int(time.time())
        if self._second[0] != now:
            self._second = (now, base64_encode(int_to_bytes(now)))
        return self._second[1]

    def _signature(self, purpose: str, value: bytes) -> bytes:
        return base64_encode(hmac.digest(self._keys[purpose], value, self._digest[purpose]))

    def _token(self, purpose: str, payload: bytes) -> str:
        if not self._own_hmac:
            return self._signers[purpose].sign(payload).decode("ascii")
        separator = self._separator[purpose]
        value = payload + separator + self._timestamp()
        return (value + separator + self._signature(purpose, value)).decode("ascii")

    def links(self, subscriber_id: int, email: str) -> SubscriberLinks:
        # the payload `make_token` would serialise: json.dumps with compact separators
        compact = f'[{int(subscriber_id)},"{_fingerprint(self._fingerprint_key, email)}"]'.encode("ascii")
        payload = base64.urlsafe_b64encode(compact).rstrip(b"=")
        unsubscribe = self._token(UNSUBSCRIBE, payload)
        return SubscriberLinks(
            unsubscribe=f"{self.base}/unsubscribe/{unsubscribe}",
            preferences=f"{self.base}/preferences/{self._token(PREFERENCES, payload)}",
            unsubscribe_mailto=f"mailto:unsubscribe@{self.mail_domain}?subject=unsubscribe%20{unsubscribe}",
        )


def subscriber_links(settings: Settings, subscriber_id: int, email: str) -> SubscriberLinks:
    """The personal links every digest carries, for one subscriber."""
    return LinkSigner(settings).links(subscriber_id, email)
