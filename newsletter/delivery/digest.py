"""The per-edition message template: MIME built once, per recipient only links spliced in and headers prepended."""

from __future__ import annotations

import binascii
import hashlib
import html
import re
import time
from email import quoprimime
from email.policy import SMTP, SMTPUTF8
from email.utils import make_msgid
from typing import cast

from flask_babel import force_locale
from flask_babel import gettext as _

from newsletter.core.settings import Settings
from newsletter.core.tokens import LinkSigner, SubscriberLinks
from newsletter.delivery.canonical import field_lines
from newsletter.delivery.compose import WireMessage, is_transparent, keyed_tag, rfc5322_date
from newsletter.delivery.placeholders import PREFERENCES_PLACEHOLDER as PREFERENCES
from newsletter.delivery.placeholders import UNSUBSCRIBE_PLACEHOLDER as UNSUBSCRIBE
from newsletter.delivery.signing import DkimSigner
from newsletter.models import Edition

PLACEHOLDER_PATTERN = re.compile(f"({UNSUBSCRIBE}|{PREFERENCES})")
MAX_QP_LINE = 76
PERSONAL_FIELDS = (b"Date", b"To", b"Message-ID", b"List-Unsubscribe", b"List-Unsubscribe-Post")  # each reader's
_PLAIN = re.compile(rb"[!-<>-~]*")  # what quoted-printable leaves as it is: printable ASCII but "=", no blanks


def qp_encode(text: str) -> bytes:
    """Quoted-printable with CRLF line ends and lines of at most 76 (trailing whitespace encoded)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    latin = normalised.encode("utf-8").decode("latin-1")
    return quoprimime.body_encode(latin, MAX_QP_LINE, "\r\n").encode("ascii")


def _qp_url(url: str) -> bytes:
    """A personal link, quoted-printable, in lines of at most 75 (room for the soft break that ends a piece),
    none starting with a dot: SMTP's wire form as built (see `compose.WireMessage`). A soft break of
    binascii's could fall just before a dot of the token, and two in three messages then had to be scanned
    and dot-stuffed whole. A plain URL (printable ASCII but `=`, as ours are) is only wrapped."""
    raw = url.encode("utf-8")
    if not _PLAIN.fullmatch(raw):  # binary mode: line feeds encoded too, so only soft breaks to remove
        raw = binascii.b2a_qp(raw, quotetabs=True, istext=False, header=False).replace(b"=\n", b"")
    return _wrapped(raw)


def _wrapped(flat: bytes) -> bytes:
    """Quoted-printable text without line breaks, in soft-broken lines of at most 76, none starting with a dot
    and no escape split."""
    lines = []
    while flat:
        if flat.startswith(b"."):
            flat = b"=2E" + flat[1:]
        cut = min(MAX_QP_LINE - 1, len(flat))
        if cut < len(flat):
            while b"=" in flat[cut - 2 : cut]:
                cut -= 1
        lines.append(flat[:cut])
        flat = flat[cut:]
    return b"=\r\n".join(lines)


def _end_with_line_break(encoded: bytes) -> bytes:
    """Close an encoded chunk that stops mid-line with a soft line break, keeping lines within 76."""
    if not encoded or encoded.endswith(b"\r\n"):
        return encoded
    head, _sep, last = encoded.rpartition(b"\r\n")
    prefix = head + b"\r\n" if _sep else b""
    while len(last) + 1 > MAX_QP_LINE:
        cut = MAX_QP_LINE - 1
        while b"=" in last[cut - 2 : cut]:
            cut -= 1
        prefix += last[:cut] + b"=\r\n"
        last = last[cut:]
    return prefix + last + b"=\r\n"


def _segments(body: str) -> list[bytes | str]:
    """Encoded literal chunks (bytes) alternating with placeholder names (str)."""
    pieces = PLACEHOLDER_PATTERN.split(body)
    segments: list[bytes | str] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            segments.append(piece)
        elif index == len(pieces) - 1:
            segments.append(qp_encode(piece))
        else:
            segments.append(_end_with_line_break(qp_encode(piece)))
    return segments


def _header(name: str, value: str) -> bytes:
    folded: str = SMTP.header_factory(name, value).fold(policy=SMTP)  # the policy's factory is typed Any
    return folded.encode("ascii")


def _part_head(boundary: str, subtype: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")


class DigestTemplate:
    """One edition's message, pre-encoded; `render` makes one recipient's bytes.

    With a DKIM signer, the shared body is canonicalised once here and each message comes out signed.
    """

    def __init__(
        self, edition: Edition, settings: Settings, *, subject: str | None = None, dkim: DkimSigner | None = None
    ):
        mail = settings.mail
        self.edition_id = edition.id
        self.domain = mail.sender_domain
        self._secret = settings.site.secret_key.encode("utf-8")
        boundary = f"=_nl.{hashlib.sha256(f'{edition.id}:{edition.subject}'.encode()).hexdigest()[:24]}"
        common = [
            ("From", mail.mail_from),
            ("Subject", subject or edition.subject),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
            ("List-Id", f"{settings.site.publication_name} ({edition.language}) <{edition.language}.{self.domain}>"),
            ("Precedence", "bulk"),
        ]
        if mail.feedback_id:
            common.append(("Feedback-ID", f"{edition.id}:{edition.language}:digest:{mail.feedback_id}"))
        self.common_headers = b"".join(_header(name, value) for name, value in common)
        self.boundary = boundary
        self.body = _body_layout(boundary, _segments(edition.text), _segments(edition.html))
        self._slot_at = [(index, part) for index, part in enumerate(self.body) if isinstance(part, tuple)]
        self._slots = list(dict.fromkeys(slot for _index, slot in self._slot_at))
        self.dkim = dkim
        self._transparent = all(
            is_transparent(part) for part in [self.common_headers, *self.body] if isinstance(part, bytes)
        )
        if dkim:
            self._head_plan = dkim.prepare_head(PERSONAL_FIELDS, self.common_headers)
            self._shared_body = dkim.shared_body([part if isinstance(part, bytes) else None for part in self.body])

    def message_id(self, subscriber_id: int) -> str:
        """Deterministic per (edition, subscriber): a copy re-sent after a crash can be dropped by the receiver."""
        tag = keyed_tag(self._secret, f"{self.edition_id}:{subscriber_id}")
        return f"<edition.{self.edition_id}.{subscriber_id}.{tag}@{self.domain}>"

    def render(self, recipient: str, links: SubscriberLinks, message_id: str) -> bytes:
        """The recipient's message bytes: personal headers, then the shared parts with their links."""
        values = {UNSUBSCRIBE: links.unsubscribe, PREFERENCES: links.preferences}
        personal_values = [
            _date_value(),
            b" " + _address(recipient),
            b" " + message_id.encode("ascii"),
            f" <{links.unsubscribe}>,\r\n <{links.unsubscribe_mailto}>".encode("ascii"),
            b" List-Unsubscribe=One-Click",
        ]
        pieces = _link_pieces(values, self._slots)
        layout = list(self.body)
        for index, slot in self._slot_at:
            layout[index] = pieces[slot]
        body = cast(list[bytes], layout)  # every slot now holds its piece
        # link pieces are built transparent; a header line starts with its name, a folded one with a space
        transparent = self._transparent and is_transparent(b"".join(personal_values))
        if self.dkim is None:
            personal = field_lines(PERSONAL_FIELDS, personal_values)
            message = b"".join([personal, self.common_headers, b"\r\n", *body])  # one copy of the body
            return WireMessage(message) if transparent else message
        body_hash = self._shared_body.digest([pieces[slot] for _index, slot in self._slot_at])
        signed = self.dkim.sign_planned(self._head_plan, personal_values, body, body_hash)
        signed.transparent = transparent
        return signed


Slot = tuple[str, bool]  # (placeholder, HTML-escaped)


def _body_layout(boundary: str, text: list[bytes | str], html_part: list[bytes | str]) -> list[bytes | Slot]:
    """The body as shared bytes (adjacent ones merged) and slots for the per-recipient links."""
    layout: list[bytes | Slot] = []
    parts = [
        _part_head(boundary, "plain"),
        *[(p, False) if isinstance(p, str) else p for p in text],
        b"\r\n",
        _part_head(boundary, "html"),
        *[(p, True) if isinstance(p, str) else p for p in html_part],
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ]
    for part in parts:
        if isinstance(part, bytes) and layout and isinstance(layout[-1], bytes):
            layout[-1] += part
        else:
            layout.append(part)
    return layout


def _link_pieces(values: dict[str, str], slots: list[Slot]) -> dict[Slot, bytes]:
    """Each slot's piece: whole quoted-printable lines in SMTP's wire form (CRLF ends, no line starting with a
    dot, by `_qp_url`'s construction), so a message stays transparent whatever the reader's links. A URL
    that is the same escaped or not (any of ours) is encoded once."""
    pieces: dict[Slot, bytes] = {}
    encoded: dict[str, bytes] = {}
    for placeholder, escape in slots:
        url = html.escape(values[placeholder], quote=True) if escape else values[placeholder]
        if url not in encoded:
            encoded[url] = _end_with_line_break(_qp_url(url))
        pieces[placeholder, escape] = encoded[url]
    return pieces


_date_cache: tuple[int, bytes] = (0, b"")  # (second, the Date value for it), replaced whole


def _date_value() -> bytes:
    """The Date header's value, formatted once per second, in UTC as +0000 (RFC 5322; not the obsolete GMT)."""
    global _date_cache
    now = int(time.time())
    second, value = _date_cache
    if second != now:
        value = f" {rfc5322_date(now)}".encode("ascii")
        _date_cache = (now, value)
    return value


def _address(email: str) -> bytes:
    if email.isascii() and not any(char in email for char in '\r\n<>",;'):
        return email.encode("ascii")
    folded: str = SMTPUTF8.header_factory("To", email).fold(policy=SMTPUTF8)
    return folded.split(":", 1)[1].strip().encode("utf-8")


def build_digest_message(template: DigestTemplate, subscriber_id: int, email: str, signer: LinkSigner) -> bytes:
    """One subscriber's digest, its personal links signed by `signer`."""
    links = signer.links(subscriber_id, email)
    return template.render(email, links, template.message_id(subscriber_id))


def build_test_message(
    edition: Edition, recipient_email: str, settings: Settings, dkim: DkimSigner | None = None
) -> bytes:
    """A test send of the edition: subject marked as a test, personal links inert, a fresh Message-ID; signed
    with `dkim` like every other message, so a test shows what receivers will make of the real one."""
    with force_locale(edition.language):
        subject = _("[TEST] %(subject)s", subject=edition.subject)
    template = DigestTemplate(edition, settings, subject=subject, dkim=dkim)
    base = settings.site.base_url
    inert = SubscriberLinks(f"{base}/subscribe", f"{base}/subscribe", f"mailto:unsubscribe@{template.domain}")
    return template.render(recipient_email, inert, make_msgid(domain=template.domain))
