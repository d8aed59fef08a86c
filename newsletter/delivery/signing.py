"""DKIM signing (RFC 6376) with the `cryptography` package (NEWSLETTER_DKIM_SELECTOR, _DOMAIN, _PRIVATE_KEY_PATH).

The key file decides the algorithm: an RSA key signs rsa-sha256, an Ed25519 key ed25519-sha256 (RFC 8463).
Canonicalisation is relaxed/relaxed, and From and Subject are oversigned: h= names them once more than the
message holds them, so a From or Subject added on the way breaks the signature instead of riding on it.
Signing costs about 0.35 ms (RSA-2048, which releases the GIL) or 0.04 ms (Ed25519); the body hash of a
digest is prepared once per edition (`SharedBody`), so a recipient only hashes what is not shared.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import time
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .canonical import CRLF, SharedBody, header_fields, relaxed_body, relaxed_header, split_message, wire_form

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post",
    b"list-id", b"mime-version", b"content-type",
)
OVERSIGNED = frozenset({b"from", b"subject"})
RSA_MIN_BITS = 1024  # RFC 8301: verifiers must reject shorter keys
MAX_LINE = 78


class SignedMessage(bytes):
    """Message bytes that already start with a signature; `signed_by` is the signer's (domain, selector, a=)."""

    signed_by: tuple[bytes, bytes, bytes] = (b"", b"", b"")


class DkimSigner:
    """Signs messages; `sign` takes a whole message, `sign_prepared` a digest whose body hash is prepared."""

    def __init__(self, selector: str, domain: str, private_key: bytes):
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self._key = load_private_key(private_key)
        self.algorithm = b"rsa-sha256" if isinstance(self._key, rsa.RSAPrivateKey) else b"ed25519-sha256"
        self.identity = (self.domain, self.selector, self.algorithm)

    def sign(self, message: bytes) -> bytes:
        """The message, in its wire form, with a DKIM-Signature prepended.

        A message this signer already signed (a digest from a template prepared with it) comes back as it is,
        so callers may sign every message whatever built it.
        """
        if isinstance(message, SignedMessage) and message.signed_by == self.identity:
            return message
        message = wire_form(message)
        head, body = split_message(message)
        return self._signed(head, message, hashlib.sha256(relaxed_body(body)).digest())

    @staticmethod
    def shared_body(layout: list[bytes | None]) -> SharedBody:
        """Prepare a template's body (shared bytes, None for each per-recipient piece) for `sign_prepared`."""
        return SharedBody(layout)

    def sign_prepared(self, head: bytes, body: bytes, body_hash: bytes) -> SignedMessage:
        """`head` (header fields ending in CRLF), a blank line and `body`, signed with a prepared body hash."""
        return self._signed(head, head + CRLF + body, body_hash)

    def _signed(self, head: bytes, message: bytes, body_hash: bytes) -> SignedMessage:
        signed = SignedMessage(self.signature_field(head, body_hash) + message)
        signed.signed_by = self.identity
        return signed

    def signature_field(self, head: bytes, body_hash: bytes) -> bytes:
        """The folded DKIM-Signature field (ending in CRLF) over the header block `head` and `body_hash`."""
        fields = header_fields(head)
        names = signed_names(fields)
        tags = [b"v=1", b"a=" + self.algorithm, b"c=relaxed/relaxed", b"d=" + self.domain,
                b"s=" + self.selector, b"t=%d" % int(time.time())]
        unsigned = _fold(tags, names, base64.b64encode(body_hash))
        data = _selected_headers(fields, names) + relaxed_header(*unsigned.split(b":", 1))
        return _append_folded(unsigned, base64.b64encode(self._signature(data))) + CRLF

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(hashlib.sha256(data).digest())  # RFC 8463: Ed25519 over the SHA-256 of the data


def signed_names(fields: list[tuple[bytes, bytes]]) -> list[bytes]:
    """h=: each signed header as often as it occurs, From and Subject once more (oversigning)."""
    present = [name.strip(b" \t").lower() for name, _value in fields]
    names: list[bytes] = []
    for name in SIGNED_HEADERS:
        names.extend([name] * (present.count(name) + (name in OVERSIGNED)))
    return names


def _selected_headers(fields: list[tuple[bytes, bytes]], names: list[bytes]) -> bytes:
    """The canonical fields h= selects: for each name the last instance not used yet, none once they run out."""
    instances: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        canonical = relaxed_header(name, value)
        instances.setdefault(canonical.split(b":", 1)[0], []).append(canonical + CRLF)
    return b"".join(instances[name].pop() if instances.get(name) else b"" for name in names)


def _fold(tags: list[bytes], names: list[bytes], body_hash: bytes) -> bytes:
    """The DKIM-Signature field up to an empty b=, folded at tag and header-name boundaries."""
    atoms = [(b" ", tag + b";") for tag in tags]
    atoms += [(b" " if index == 0 else b"", (b"h=" if index == 0 else b"") + name + b":")
              for index, name in enumerate(names)]
    atoms[-1] = (atoms[-1][0], atoms[-1][1][:-1] + b";")
    atoms += [(b" ", b"bh=" + body_hash + b";"), (b" ", b"b=")]
    lines = [b"DKIM-Signature:"]
    for separator, atom in atoms:
        if len(lines[-1]) + len(separator) + len(atom) > MAX_LINE:
            lines.append(b" " + atom)
        else:
            lines[-1] += separator + atom
    return CRLF.join(lines)


def _append_folded(field: bytes, value: bytes) -> bytes:
    """`field` followed by `value`, folded so that no line passes MAX_LINE (whitespace in b= is ignored)."""
    room = max(0, MAX_LINE - (len(field) - field.rfind(CRLF) - 2 if CRLF in field else len(field)))
    pieces = [field + value[:room]]
    pieces.extend(b" " + value[start:start + MAX_LINE - 1] for start in range(room, len(value), MAX_LINE - 1))
    return CRLF.join(pieces)


def load_private_key(data: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    """An unencrypted PEM or DER key (PKCS#1 or PKCS#8), or dkimpy's base64 Ed25519 seed; ValueError otherwise."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = _ed25519_seed(data) or serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise ValueError("the key is encrypted; give an unencrypted key file") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a PEM or DER private key, nor a base64 Ed25519 seed") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < RSA_MIN_BITS:
            raise ValueError(f"an RSA key of {key.key_size} bits is too short (at least {RSA_MIN_BITS}, 2048 advised)")
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise ValueError(f"DKIM signs with RSA or Ed25519 keys, not {type(key).__name__}")


def _ed25519_seed(data: bytes) -> ed25519.Ed25519PrivateKey | None:
    """dkimpy's `dknewkey --ktype ed25519` writes the 32-byte private seed in base64 on one line."""
    try:
        seed = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed) if len(seed) == 32 else None


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
    except (ValueError, UnicodeError) as error:
        raise ValueError(f"the DKIM settings cannot sign (key {key_path}): {error}") from None
    return signer
