"""DKIM signing (RFC 6376) with the `cryptography` package (NEWSLETTER_DKIM_SELECTOR, _DOMAIN, _PRIVATE_KEY_PATH).

The key file decides the algorithm: an RSA key signs rsa-sha256, an Ed25519 key ed25519-sha256 (RFC 8463).
Canonicalisation is relaxed/relaxed, and From and Subject are oversigned: h= names them once more than the
message holds them, so a From or Subject added on the way breaks the signature instead of riding on it.
The private-key operation costs about 0.35 ms (RSA-2048) or 0.03 ms (Ed25519), both releasing the GIL. A
digest template prepares its body hash (`SharedBody`: a recipient hashes only what follows the first
personal link) and its header (`HeadPlan`: h=, the shared fields' canonical lines and the signature's
start), so per message only the personal fields are canonicalised.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from newsletter.core.settings import MailSettings
from newsletter.delivery.canonical import (
    CRLF,
    SharedBody,
    field_lines,
    header_fields,
    relaxed_body,
    relaxed_header,
    relaxed_name,
    relaxed_value,
    split_message,
    wire_form,
)

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
    b"mime-version",
    b"content-type",
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
    """Signs messages; `sign` takes a whole message, `sign_planned` a digest whose header and body hash are
    prepared (`prepare_head`, `shared_body`)."""

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
        """Prepare a template's body (shared bytes, None for each per-recipient piece) for `sign_planned`."""
        return SharedBody(layout)

    def prepare_head(self, personal_names: tuple[bytes, ...], shared_block: bytes) -> HeadPlan:
        """Prepare a template's header for `sign_planned`: each message has its own values of the fields
        `personal_names` (in that order, first), then `shared_block` (header fields ending in CRLF)."""
        shared = canonical_fields(shared_block)
        lowered = [name.lower() for name in personal_names]
        names = signed_names([name for name in lowered if name in SIGNED_SET] + [name for name, _line in shared])
        instances: dict[bytes, list[bytes | int]] = {}
        for index, name in enumerate(lowered):
            if name in SIGNED_SET:
                instances.setdefault(name, []).append(index)
        for name, line in shared:
            instances.setdefault(name, []).append(line)
        # as `_selected_lines`: for each name of h= the last instance not used yet, none once they run out
        selected = tuple(instances[name].pop() if instances.get(name) else b"" for name in names)
        relaxed_names = tuple(relaxed_name(name) for name in personal_names)
        return HeadPlan(personal_names, relaxed_names, shared_block, selected, *self._start(tuple(names)))

    def sign_planned(self, plan: HeadPlan, values: list[bytes], body: list[bytes], body_hash: bytes) -> SignedMessage:
        """The plan's personal fields with `values` (as written, leading space included), its shared fields,
        a blank line and the `body` chunks, signed with a prepared body hash: per message only the personal
        fields are canonicalised, and h= and the signature's start are the plan's."""
        canonical = [name + relaxed_value(value) + CRLF for name, value in zip(plan.relaxed_names, values, strict=True)]
        lines = b"".join([canonical[line] if isinstance(line, int) else line for line in plan.selected])
        field = self._field(plan.start, plan.canonical_start, lines, body_hash)
        head = field_lines(plan.personal_names, values)
        return self._signed_bytes(b"".join([field, head, plan.shared_block, CRLF, *body]))

    def _signed(self, fields: list[tuple[bytes, bytes]], message: bytes, body_hash: bytes) -> SignedMessage:
        return self._signed_bytes(self.signature_field(fields, body_hash) + message)

    def _signed_bytes(self, message: bytes) -> SignedMessage:
        signed = SignedMessage(message)
        signed.signed_by = self.identity
        return signed

    def signature_field(self, fields: list[tuple[bytes, bytes]], body_hash: bytes) -> bytes:
        """The folded DKIM-Signature field (ending in CRLF) over `canonical_fields` of a message and its body hash."""
        names = signed_names([name for name, _line in fields])
        start, canonical_start = self._start(tuple(names))
        return self._field(start, canonical_start, _selected_lines(fields, names), body_hash)

    def _field(self, start: bytes, canonical_start: bytes, lines: bytes, body_hash: bytes) -> bytes:
        """The field from its start up to h=, the canonical lines h= selects and the body hash."""
        tail = [b"t=%d;" % int(time.time()), b"bh=" + base64.b64encode(body_hash) + b";", b"b="]
        unsigned = _fold(start, [(b" ", tag) for tag in tail])  # short tags: `_tag_atoms` would not cut them
        data = lines + canonical_start + b" " + b" ".join(tail)
        return _fold_base64(unsigned, base64.b64encode(self._signature(data))) + CRLF

    def _start(self, names: tuple[bytes, ...]) -> tuple[bytes, bytes]:
        """The field up to h= (folded) and its relaxed form: the same for every message of a template."""
        if names not in self._starts:
            tags = [
                b"v=1;",
                b"a=" + self.algorithm + b";",
                b"c=relaxed/relaxed;",
                b"d=" + self.domain + b";",
                b"s=" + self.selector + b";",
                b"h=" + b":".join(names) + b";",
            ]
            start = _fold(b"DKIM-Signature:", _tag_atoms(tags))
            self._starts[names] = (start, relaxed_header(*start.split(b":", 1)))
        return self._starts[names]

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(hashlib.sha256(data).digest())  # RFC 8463: Ed25519 over the SHA-256 of the data


@dataclass(frozen=True)
class HeadPlan:
    """How a template's messages are signed, worked out once: the personal fields' names, the shared fields,
    for each name of h= its canonical line (shared) or the index of the personal field that gives it, and
    the signature field up to h= with its canonical form."""

    personal_names: tuple[bytes, ...]  # as written
    relaxed_names: tuple[bytes, ...]  # the same, in relaxed form with their colon
    shared_block: bytes
    selected: tuple[bytes | int, ...]
    start: bytes
    canonical_start: bytes


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
        atoms += [
            (b"" if index else b" ", part + (b":" if index < len(parts) - 1 else b""))
            for index, part in enumerate(parts)
        ]
    return atoms


def _fold_base64(text: bytes, value: bytes) -> bytes:
    """`text` then `value` cut to fill each line: whitespace inside b= is folding that verifiers ignore."""
    room = max(0, MAX_LINE - len(text.rsplit(CRLF, 1)[-1]))
    rest = [b" " + value[start : start + MAX_LINE - 1] for start in range(room, len(value), MAX_LINE - 1)]
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


def signer_from_config(config: Mapping[str, Any]) -> DkimSigner | None:
    """A signer when the three DKIM settings are present, else None (see `signer_for`)."""
    selector, domain, key_path = (config.get(f"DKIM_{name}") for name in ("SELECTOR", "DOMAIN", "PRIVATE_KEY_PATH"))
    return signer_for(selector, domain, key_path)


def signer_from_settings(mail: MailSettings) -> DkimSigner | None:
    """The signer the mail settings describe, else None (see `signer_for`)."""
    return signer_for(mail.dkim_selector, mail.dkim_domain, mail.dkim_private_key_path)


def signer_for(selector: object, domain: object, key_path: object) -> DkimSigner | None:
    """A signer when the three DKIM settings are present, else None.

    Raises ValueError, saying what is wrong, for a key file that cannot be read or cannot sign: found at
    start-up, not as a failure of every message.
    """
    if not (selector and domain and key_path):
        return None
    try:
        key = Path(str(key_path)).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the DKIM key {key_path}: {error.strerror}") from None
    try:
        signer = DkimSigner(str(selector), str(domain), key)
        signer.sign(PROBE)
    except (ValueError, UnicodeError) as error:
        raise ValueError(f"the DKIM settings cannot sign (key {key_path}): {error}") from None
    return signer
