"""VERP-style envelope senders: a bounce to `bounces+<delivery id>-<tag>@domain` names its delivery."""

from __future__ import annotations

import hmac
import re

from flask import current_app

from newsletter.delivery.compose import keyed_tag, sender_domain

BOUNCE_PATTERN = re.compile(r"^bounces\+([0-9]{1,19})-([0-9a-f]{10})@", re.IGNORECASE)


def _tag(secret: str, delivery_id: int) -> str:
    return keyed_tag(secret, f"bounce:{delivery_id}", 10)


def bounce_domain() -> str:
    return current_app.config.get("BOUNCE_DOMAIN") or sender_domain()


def envelope_sender(delivery_id: int, *, secret: str | None = None, domain: str | None = None) -> str:
    """The Return-Path for one delivery."""
    secret = secret or current_app.config["SECRET_KEY"]
    return f"bounces+{delivery_id}-{_tag(secret, delivery_id)}@{domain or bounce_domain()}"


def delivery_id_from_bounce(address: str) -> int | None:
    """The delivery a bounce address belongs to, or None if it is not one of ours (or forged)."""
    match = BOUNCE_PATTERN.match(address.strip("<> "))
    if not match:
        return None
    delivery_id = int(match.group(1))
    expected = _tag(current_app.config["SECRET_KEY"], delivery_id)
    return delivery_id if hmac.compare_digest(expected, match.group(2).lower()) else None
