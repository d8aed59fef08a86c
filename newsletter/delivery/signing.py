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
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .canonical import CRLF, SharedBody, header_fields, relaxed_body, relaxed_header, split_message, wire_form

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post",
    b"list-id", b"mime-version", b"content-type",
)
SIGNED_SET = frozenset(SIGNED_HEADERS)
OVERSIGNED = frozenset({b"from", b"subject"})
RSA_MIN_BITS = 1024  # RFC 8301: verifiers must reject shorter keys
MAX_LINE = 78


class SignedMessage(bytes):
    """Message bytes that already start with a signature; `signed_by` is the signer's (domain, selector, a=),
    and `transparent` says the bytes are in SMTP's wire form as they are (see `compose.WireMessage`)."""

    signed_by: tuple[bytes, bytes, bytes] = (b"", b"", b"")
    transparent = False


class DkimSigner:
    """Signs messages; `sign` takes a whole message, `sign_prepared` a digest whose body hash is prepared."""

    def __init__(self, selector: str, domain: str, private_key: bytes):
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self._key = load_private_key(private_key)
        self.algorithm = b"rsa-sha256" if isinstance(self._key, rsa.RSAPrivateKey) else b"ed25519-sha256"
        self.identity = (self.domain, self.selector, self.algorithm)
        self._starts: dict[tuple[bytes, ...], tuple[bytes, bytes]] = {}

    def sign(self, message: bytes) -> bytes:
        """The message, in its wire form, with a DKIM-Signature prepended.

        A message this signer already signed (a digest from a template prepared with it) comes back as it is,
        so callers may sign every message whatever built it.
        """
        if isinstance(message, SignedMessage) and message.signed_by == self.identity:
            return message
        message = wire_form(message)
        head, body = split_message(message)
        return self._signed(canonical_fields(head), message, hashlib.sha256(relaxed_body(body)).digest())

    @staticmethod
    def shared_body(layout: list[bytes | None]) -> SharedBody:
        """Prepare a template's body (shared bytes, None for each per-recipient piece) for `sign_prepared`."""
        return SharedBody(layout)

    @staticmethod
    def shared_head(block: bytes) -> SharedHead:
        """Prepare header fields every message of a template carries (ending in CRLF) for `sign_prepared`."""
        return SharedHead(block, tuple(canonical_fields(block)))

    def sign_prepared(self, head: bytes, shared: SharedHead, body: bytes, body_hash: bytes) -> SignedMessage:
        """`head` and `shared.block` (header fields), a blank line and `body`, signed with a prepared body hash."""
        fields = canonical_fields(head) + list(shared.fields)
        return self._signed(fields, head + shared.block + CRLF + body, body_hash)

    def _signed(self, fields: list[tuple[bytes, bytes]], message: bytes, body_hash: bytes) -> SignedMessage:
        signed = SignedMessage(self.signature_field(fields, body_hash) + message)
        signed.signed_by = self.identity
        return signed

    def signature_field(self, fields: list[tuple[bytes, bytes]], body_hash: bytes) -> bytes:
        """The folded DKIM-Signature field (ending in CRLF) over `canonical_fields` of a message and its body hash."""
        names = signed_names([name for name, _line in fields])
        start, canonical_start = self._start(tuple(names))
        tail = [b"t=%d;" % int(time.time()), b"bh=" + base64.b64encode(body_hash) + b";", b"b="]
        unsigned = _fold(start, _tag_atoms(tail))
        data = _selected_lines(fields, names) + canonical_start + b" " + b" ".join(tail)
        return _fold_base64(unsigned, base64.b64encode(self._signature(data))) + CRLF

    def _start(self, names: tuple[bytes, ...]) -> tuple[bytes, bytes]:
        """The field up to h= (folded) and its relaxed form: the same for every message of a template."""
        if names not in self._starts:
            tags = [b"v=1;", b"a=" + self.algorithm + b";", b"c=relaxed/relaxed;", b"d=" + self.domain + b";",
                    b"s=" + self.selector + b";", b"h=" + b":".join(names) + b";"]
            start = _fold(b"DKIM-Signature:", _tag_atoms(tags))
            self._starts[names] = (start, relaxed_header(*start.split(b":", 1)))
        return self._starts[names]

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(hashlib.sha256(data).digest())  # RFC 8463: Ed25519 over the SHA-256 of the data


@dataclass(frozen=True)
class SharedHead:
    """Header fields shared by a template's messages, with the canonical lines of the signed ones."""

    block: bytes
    fields: tuple[tuple[bytes, bytes], ...]


def canonical_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    """(lowercase name, relaxed `name:value` CRLF line) of each field of `block` that is signed."""
    fields = []
    for name, value in header_fields(block):
        name = name.strip(b" \t").lower()
        if name in SIGNED_SET:
            fields.append((name, relaxed_header(name, value) + CRLF))
    return fields


def signed_names(present: list[bytes]) -> list[bytes]:
    """h=: each signed header (lowercase) as often as it occurs, From and Subject once more (oversigning)."""
    names: list[bytes] = []
    for name in SIGNED_HEADERS:
        names.extend([name] * (present.count(name) + (name in OVERSIGNED)))
    return names


def _selected_lines(fields: list[tuple[bytes, bytes]], names: list[bytes]) -> bytes:
    """The canonical lines h= selects: for each name the last instance not used yet, none once they run out."""
    instances: dict[bytes, list[bytes]] = {}
    for name, line in fields:
        instances.setdefault(name, []).append(line)
    return b"".join(instances[name].pop() if instances.get(name) else b"" for name in names)


def _fold(text: bytes, atoms: list[tuple[bytes, bytes]]) -> bytes:
    """`text` then each (glue, atom); an atom that would pass MAX_LINE starts a new line (CRLF SP) instead."""
    lines = text.split(CRLF)
    for glue, atom in atoms:
        if len(lines[-1]) + len(glue) + len(atom) > MAX_LINE:
            lines.append(b" " + atom)
        else:
            lines[-1] += glue + atom
    return CRLF.join(lines)


def _tag_atoms(tags: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Tags after a space each; a long one (h=) cut after each colon, where folding whitespace is allowed."""
    atoms = []
    for tag in tags:
        parts = tag.split(b":") if len(tag) > MAX_LINE // 2 else [tag]
        atoms += [(b"" if index else b" ", part + (b":" if index < len(parts) - 1 else b""))
                  for index, part in enumerate(parts)]
    return atoms


def _fold_base64(text: bytes, value: bytes) -> bytes:
    """`text` then `value` cut to fill each line: whitespace inside b= is folding that verifiers ignore."""
    room = max(0, MAX_LINE - len(text.rsplit(CRLF, 1)[-1]))
    rest = [b" " + value[start:start + MAX_LINE - 1] for start in range(room, len(value), MAX_LINE - 1)]
    return CRLF.join([text + value[:room], *rest])


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
