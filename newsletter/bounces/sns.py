"""Amazon SNS message signatures: SES reports bounces and complaints through SNS, signed with Amazon's key.

The signing certificate is fetched only from a URL matching NEWSLETTER_SNS_CERT_URL_PATTERN (by default
`https://sns.<region>.amazonaws.com/…`), so a forged message cannot point at a key of its own.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.request
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
FETCH_TIMEOUT_SECONDS = 10
MAX_CERTIFICATE_BYTES = 64 * 1024


class BadSignature(ValueError):
    """The SNS message is not signed by a certificate we accept."""


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical text SNS signs: `Name\\nValue\\n` for each present field, in the documented order."""
    fields = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else SUBSCRIPTION_FIELDS
    return "".join(f"{name}\n{message[name]}\n" for name in fields if name in message).encode("utf-8")


@lru_cache(maxsize=16)
def _certificate(url: str) -> x509.Certificate:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (URL checked)
        return x509.load_pem_x509_certificate(response.read(MAX_CERTIFICATE_BYTES))


def verify(message: Mapping[str, Any], url_pattern: str) -> None:
    """Raise BadSignature unless the message carries a valid signature from an allowed certificate URL."""
    url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    algorithm = HASHES.get(str(message.get("SignatureVersion", "")))
    if not isinstance(url, str) or not re.match(url_pattern, url) or algorithm is None:
        raise BadSignature("signing certificate URL or signature version not accepted")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        public_key = _certificate(url).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):  # SNS signs with RSA (PKCS#1 v1.5) only
            raise BadSignature("signing certificate is not an RSA certificate")
        public_key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except (InvalidSignature, binascii.Error, ValueError, TypeError, OSError) as error:
        raise BadSignature("signature does not verify") from error


def confirm_subscription(message: Mapping[str, Any], url_pattern: str) -> None:
    """Follow the SubscribeURL of a verified SubscriptionConfirmation (only to an allowed host)."""
    url = message.get("SubscribeURL")
    if not isinstance(url, str) or not re.match(url_pattern, url):
        raise BadSignature("subscription URL not accepted")
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS):  # noqa: S310 (URL checked)
        pass
