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


def signer_from_config(config) -> DkimSigner | None:
    """A signer when the three DKIM settings are present, else None; a missing key file is an error."""
    selector, domain, key_path = (config.get(f"DKIM_{name}") for name in ("SELECTOR", "DOMAIN", "PRIVATE_KEY_PATH"))
    if not (selector and domain and key_path):
        return None
    return DkimSigner(str(selector), str(domain), Path(key_path).read_bytes())
