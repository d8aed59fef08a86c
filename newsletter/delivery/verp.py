"""VERP-style envelope senders: a bounce to `bounces+<delivery id>-<tag>@domain` names its delivery."""

from __future__ import annotations

import hmac
import re

from newsletter.delivery.compose import keyed_tag

BOUNCE_PATTERN = re.compile(r"^bounces\+([0-9]{1,19})-([0-9a-f]{10})@", re.IGNORECASE)


def _tag(secret: str, delivery_id: int) -> str:
    return keyed_tag(secret, f"bounce:{delivery_id}", 10)


def envelope_sender(delivery_id: int, *, secret: str, domain: str) -> str:
    """The Return-Path for one delivery (`domain`: NEWSLETTER_BOUNCE_DOMAIN, else the From domain)."""
    return f"bounces+{delivery_id}-{_tag(secret, delivery_id)}@{domain}"


def delivery_id_from_bounce(address: str, secret: str) -> int | None:
    """The delivery a bounce address belongs to, or None if it is not one of ours (or forged)."""
    match = BOUNCE_PATTERN.match(address.strip("<> "))
    if not match:
        return None
    delivery_id = int(match.group(1))
    expected = _tag(secret, delivery_id)
    return delivery_id if hmac.compare_digest(expected, match.group(2).lower()) else None
