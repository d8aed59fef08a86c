"""Email addresses from outside: validation with email-validator and one normal form per address.

Two forms: the *normal form* is an address's identity (one subscriber per normal form); the *mailbox key*
groups the spellings that reach one mailbox and is used only to count limits, never as an identity.
"""

from __future__ import annotations

import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

MAX_ADDRESS_LENGTH = 254
FORBIDDEN_CHARACTERS = ("\r", "\n", "\x00")
SUBADDRESS_SEPARATOR = "+"
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


class InvalidAddress(ValueError):
    """The address cannot be used; `message` is a lazy, translated explanation for the visitor."""

    def __init__(self, message: str):  # a flask_babel lazy string, which behaves as one
        super().__init__()
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def identity_form(local_part: str, domain: str) -> str:
    """The stored form of an already validated address (also used by the migration that merged case variants)."""
    return f"{local_part.lower()}@{domain.lower()}"


def normalise_address(raw: object, *, smtp_utf8: bool) -> str:
    """Return the address's one normal form, or raise InvalidAddress.

    `smtp_utf8`: the relay carries SMTPUTF8, so a local part beyond ASCII can be delivered (NEWSLETTER_SMTP_UTF8).

    The normal form is the local part lower-cased and the domain as a lower-cased A-label: one mailbox,
    one identity. Subscribing, importing, erasing, looking up and the suppression list all go through
    here, so `TARGet@` and `target@` are one subscriber, one resend window and one rate-limit counter.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddress(_l("Please enter your email address."))
    if any(character in raw for character in FORBIDDEN_CHARACTERS):
        raise InvalidAddress(_l("The email address must not contain line breaks or control characters."))
    candidate = raw.strip()
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(_l("The email address is too long (at most 254 characters)."))
    local_part = candidate.rpartition("@")[0]
    if not local_part.isascii() and not smtp_utf8:
        raise InvalidAddress(_l("Our mail server cannot deliver to addresses with non-Latin letters before the @."))
    try:
        validated = validate_email(candidate, check_deliverability=False, allow_smtputf8=smtp_utf8)
    except EmailNotValidError as error:
        raise InvalidAddress(_l("This is not a valid email address.")) from error
    address = identity_form(validated.local_part, validated.ascii_domain)
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(_l("The email address is too long (at most 254 characters)."))
    return address


def masked(address: str) -> str:
    """The address as a page may show it to whoever holds a link: `o***@example.org`."""
    local, _at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def mailbox_key(address: str) -> str:
    """The mailbox a normalised address reaches, for counting limits (never for identity).

    Case is folded; a `+tag` is dropped on every domain, since sub-addressing is on by default at Gmail,
    Outlook.com, iCloud, Fastmail, Proton, Zoho and in the usual Postfix, Exim and Dovecot setups (an address
    with a literal `+` then merely shares its limit with its siblings); for Gmail, which ignores dots and
    answers to `googlemail.com` too, dots are dropped and the domain folded. So `V.ictim+1@GoogleMail.com`
    and `victim@gmail.com` count as one mailbox, while each stays its own subscriber.
    """
    local, _at, domain = address.casefold().rpartition("@")
    untagged = local.split(SUBADDRESS_SEPARATOR, 1)[0]
    local = untagged or local
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}@{domain}"


def mailbox_digest(address: str, secret: str | bytes) -> str:
    """A keyed hash of the address's mailbox key: what limit counters store instead of any address."""
    key = secret if isinstance(secret, bytes) else str(secret).encode()
    return hmac.new(key, mailbox_key(address).encode(), hashlib.sha256).hexdigest()[:32]
