"""Optional DKIM signing with dkimpy (NEWSLETTER_DKIM_SELECTOR, _DOMAIN, _PRIVATE_KEY_PATH)."""
from __future__ import annotations

from pathlib import Path

import dkim

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post",
    b"list-id", b"mime-version", b"content-type",
)


class DkimSigner:
    """Prepends a DKIM-Signature (relaxed/relaxed, rsa-sha256) to each message."""

    def __init__(self, selector: str, domain: str, private_key: bytes):
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.private_key = private_key

    def sign(self, message: bytes) -> bytes:
        present = {line.split(b":", 1)[0].strip().lower() for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")}
        headers = [name for name in SIGNED_HEADERS if name in present]
        signature = dkim.sign(
            message, self.selector, self.domain, self.private_key,
            canonicalize=(b"relaxed", b"relaxed"), include_headers=headers,
        )
        return signature + message


PROBE = b"From: probe@example.org\r\nSubject: probe\r\n\r\nprobe\r\n"


def signer_from_config(config) -> DkimSigner | None:
    """A signer when the three DKIM settings are present, else None.

    Raises ValueError, saying what is wrong, for a key file that cannot be read or cannot sign: found at
    start-up, not as a failure of every message.
    """
    selector, domain, key_path = (config.get(f"DKIM_{name}") for name in ("SELECTOR", "DOMAIN", "PRIVATE_KEY_PATH"))
    if not (selector and domain and key_path):
        return None
    try:
        key = Path(key_path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the DKIM key {key_path}: {error.strerror}") from None
    try:
        signer = DkimSigner(str(selector), str(domain), key)
        signer.sign(PROBE)
    except (dkim.DKIMException, ValueError) as error:
        raise ValueError(f"the DKIM settings cannot sign (key {key_path}): {error}") from None
    return signer
