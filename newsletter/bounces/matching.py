"""Tying a report to the delivery it answers: the VERP address first, then the original Message-ID.

Both carry an HMAC tag under the secret key, so a forged or mistyped address or Message-ID names nothing.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select

from newsletter.core.addresses import InvalidAddress
from newsletter.core.extensions import db
from newsletter.delivery.compose import keyed_tag
from newsletter.delivery.verp import delivery_id_from_bounce
from newsletter.models import Delivery, Subscriber
from newsletter.models.delivery import DeliveryStatus
from newsletter.subscribers.suppression import suppression_address

DIGEST_MESSAGE_ID = re.compile(r"^<?edition\.([0-9]{1,19})\.([0-9]{1,19})\.([0-9a-f]{16})@[^>]+>?$", re.IGNORECASE)
TRANSACTIONAL_MESSAGE_ID = re.compile(r"^<?delivery\.([0-9]{1,19})\.([0-9a-f]{16})@[^>]+>?$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """The delivery a report is about, with what the rules need from it."""

    delivery_id: int
    edition_id: int | None
    subscriber_id: int | None
    email: str | None


def verp_delivery_id(addresses: tuple[str, ...] | list[str], secret: str) -> int | None:
    """The first genuine VERP delivery id among the addresses (forged tags are ignored)."""
    for address in addresses:
        delivery_id = delivery_id_from_bounce(address, secret)
        if delivery_id is not None:
            return delivery_id
    return None


def _tag_matches(secret: str, text: str, tag: str) -> bool:
    return hmac.compare_digest(keyed_tag(secret, text), tag.lower())


def _delivery_for_message_id(message_id: str, secret: str) -> Delivery | None:
    digest = DIGEST_MESSAGE_ID.match(message_id.strip())
    if digest and _tag_matches(secret, f"{digest.group(1)}:{digest.group(2)}", digest.group(3)):
        return db.session.scalar(
            select(Delivery).where(
                Delivery.edition_id == int(digest.group(1)), Delivery.subscriber_id == int(digest.group(2))
            )
        )
    transactional = TRANSACTIONAL_MESSAGE_ID.match(message_id.strip())
    if transactional and _tag_matches(secret, f"delivery:{transactional.group(1)}", transactional.group(2)):
        return db.session.get(Delivery, int(transactional.group(1)))
    return None


def _latest_delivery_to(recipient: str) -> Delivery | None:
    """A provider that names only the address (Postmark): the latest message sent to that subscriber."""
    try:
        # a report names an address mail went to: read it whatever NEWSLETTER_SMTP_UTF8 says about new ones
        address = suppression_address(recipient, smtp_utf8=True)
    except InvalidAddress:
        return None
    return db.session.scalar(
        select(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Subscriber.email == address, Delivery.status == DeliveryStatus.SENT)
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(1)
    )


def find_target(
    addresses: tuple[str, ...] | list[str], message_id: str | None, secret: str, recipient: str | None = None
) -> tuple[Target | None, int | None]:
    """The delivery named by the VERP address, else the Message-ID, else (providers only) the recipient.

    Returns (target, claimed id): a genuine VERP id whose delivery is gone gives (None, that id).
    """
    delivery_id = verp_delivery_id(addresses, secret)
    delivery = db.session.get(Delivery, delivery_id) if delivery_id is not None else None
    if delivery is None and message_id:
        delivery = _delivery_for_message_id(message_id, secret)
    if delivery is None and recipient and delivery_id is None:
        delivery = _latest_delivery_to(recipient)
    if delivery is None:
        return None, delivery_id
    address = None
    if delivery.subscriber_id is not None:
        address = db.session.scalar(select(Subscriber.email).where(Subscriber.id == delivery.subscriber_id))
    return Target(delivery.id, delivery.edition_id, delivery.subscriber_id, address), delivery.id
