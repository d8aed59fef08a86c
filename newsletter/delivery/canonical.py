"""DKIM relaxed canonicalisation (RFC 6376 §3.4.2 headers, §3.4.4 body), for whole messages and shared bodies.

A line is what ends in CRLF, as in the RFC and in every verifier; the transport turns a bare LF or CR into
CRLF before the wire, so the signer does it first (`wire_form`) and signs what the receiver will see.
"""

from __future__ import annotations

import hashlib
import re

_TRAILING_WSP = re.compile(rb"[ \t]+\r\n")
# Only runs that change: a tab, or two or more blanks (a single space is already canonical).
_WSP_TO_SQUEEZE = re.compile(rb"\t[ \t]*| [ \t]+")
_FOLD = re.compile(rb"\r\n")
_WSP_RUN = re.compile(rb"[ \t]+")
_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")  # smtplib._fix_eols, for bytes
CRLF = b"\r\n"


def has_bare_line_ends(data: bytes) -> bool:
    """Whether any line ends in a lone LF (or CR), which SMTP's wire form does not allow."""
    return data.count(b"\n") != data.count(CRLF) or data.count(b"\r") != data.count(CRLF)


def wire_form(message: bytes) -> bytes:
    """The message as the transport puts it on the wire: CRLF line ends (if any is bare), ending in CRLF."""
    if has_bare_line_ends(message):
        message = _LINE_END.sub(CRLF, message)
    return message if message.endswith(CRLF) else message + CRLF


def relaxed_lines(data: bytes) -> bytes:
    """Relaxed form of whole lines: no blanks before CRLF, each run of blanks one space; no end-of-body rule."""
    if b" \r\n" in data or b"\t" in data:
        data = _TRAILING_WSP.sub(CRLF, data)
    return _WSP_TO_SQUEEZE.sub(b" ", data) if b"\t" in data or b"  " in data else data


def relaxed_body(body: bytes) -> bytes:
    """The relaxed canonical body: lines reduced, empty lines at the end dropped, an empty body stays empty."""
    if body and not body.endswith(CRLF):
        body += CRLF  # what the transport sends before the final dot
    return _without_trailing_empty_lines(relaxed_lines(body))


def _without_trailing_empty_lines(body: bytes) -> bytes:
    end = len(body)
    while end >= 4 and body[end - 4 : end] == b"\r\n\r\n":
        end -= 2
    return b"" if body[:end] == CRLF else body[:end]


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """`name:value` in relaxed form: lowercase name, value unfolded, blanks squeezed and trimmed."""
    return relaxed_name(name) + relaxed_value(value)


def relaxed_name(name: bytes) -> bytes:
    """A field name in relaxed form, with its colon."""
    return name.strip(b" \t").lower() + b":"


def relaxed_value(value: bytes) -> bytes:
    """A field value in relaxed form: unfolded, blanks squeezed and trimmed."""
    if b"\r\n" in value or b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value))
    return value.strip(b" \t")


def field_lines(names: tuple[bytes, ...], values: list[bytes]) -> bytes:
    """Header fields written `name:value` CRLF, each value as it goes on the wire (its leading space too)."""
    return b"".join([name + b":" + value + CRLF for name, value in zip(names, values, strict=True)])


def header_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw value) of each field of a CRLF header block, continuation lines kept in the value."""
    fields: list[tuple[bytes, bytes]] = []
    for line in block.split(CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + CRLF + line)
        elif b":" in line:
            name, value = line.split(b":", 1)
            fields.append((name, value))
    return fields


def split_message(message: bytes) -> tuple[bytes, bytes]:
    """(header block ending in CRLF, body) of a CRLF message."""
    if message.startswith(CRLF):
        return b"", message[2:]
    head, separator, body = message.partition(b"\r\n\r\n")
    return head + CRLF, body if separator else b""


class SharedBody:
    """The body of one edition's messages, canonicalised once, with a slot for each per-recipient piece.

    Relaxed canonicalisation works line by line, so the shared chunks can be reduced at template build time
    as long as no line spans a slot: every chunk before a slot ends in CRLF and every piece put in a slot
    is whole lines. The SHA-256 state after the first chunk is kept; each message copies it and feeds only
    its own pieces and the reduced chunks after them. The end-of-body rule needs the last chunk to hold a
    line that is not empty, so that no piece can ever be part of the trailing empty lines.
    """

    def __init__(self, layout: list[bytes | None]):
        chunks: list[bytes] = [b""]
        for part in layout:
            if part is None:
                if chunks[-1] and not chunks[-1].endswith(CRLF):
                    raise ValueError("a per-recipient piece would start inside a line")
                chunks.append(b"")
            else:
                chunks[-1] += part
        last = relaxed_body(chunks[-1]).strip(CRLF)
        if len(chunks) > 1 and not last:
            raise ValueError("the body must end with a shared line that is not empty")
        reduced = [relaxed_lines(chunk) for chunk in chunks[:-1]] + [relaxed_body(chunks[-1])]
        self.slots = len(chunks) - 1
        self._start = hashlib.sha256(reduced[0])
        self._after = reduced[1:]

    def digest(self, pieces: list[bytes]) -> bytes:
        """SHA-256 of the canonical body with `pieces` in the slots (each empty or whole CRLF lines)."""
        if len(pieces) != self.slots:
            raise ValueError(f"{len(pieces)} pieces for {self.slots} slots")
        rest: list[bytes] = []
        for piece, chunk in zip(pieces, self._after, strict=True):
            if piece and not piece.endswith(CRLF):
                raise ValueError("a per-recipient piece must be whole lines")
            rest += (relaxed_lines(piece), chunk)
        hasher = self._start.copy()
        # One update, not one per chunk: hashlib lets go of the interpreter lock for every update of over
        # 2 KiB, and with several sender threads each taking it back was a thread switch or two.
        hasher.update(b"".join(rest))
        return hasher.digest()
