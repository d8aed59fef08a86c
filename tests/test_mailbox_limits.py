"""Limits per mailbox, not per spelling: plus-tags, Gmail's dots and googlemail.com reach one inbox.

The per-address email limit and the confirmation resend window count per mailbox key; each spelling is still
its own subscriber. Confirmations are sent by the real worker to a loopback SMTP server and counted there.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from fixtures.settings import current_settings
from sqlalchemy import func, select

from newsletter.core import rate_limits
from newsletter.core.addresses import mailbox_digest, mailbox_key
from newsletter.core.extensions import db
from newsletter.delivery import worker
from newsletter.models import MailboxMail, Subscriber, utcnow
from newsletter.subscribers import subscriptions

PER_ADDRESS = int(rate_limits.DEFAULT_LIMITS[rate_limits.ADDRESS_MAIL].split("/")[0])


def gmail_variants(count: int) -> list[str]:
    """`count` spellings of victim@gmail.com: plus-tags, dots, googlemail.com and case, mixed."""
    spellings = []
    for number in range(count):
        local = "victim"
        if number % 2:
            local = f"{local[: 1 + number % 5]}.{local[1 + number % 5 :]}"
        if number:
            local = f"{local}+n{number}"
        domain = "googlemail.com" if number % 4 == 1 else "gmail.com"
        if number % 5 == 2:
            local, domain = local.upper(), domain.upper()
        spellings.append(f"{local}@{domain}")
    assert len({spelling.lower() for spelling in spellings}) == count
    return spellings


@pytest.fixture
def limits_as_shipped(smtp_app_config):
    smtp_app_config.pop("RATE_LIMITS", None)
    return smtp_app_config


def _subscribe(client, address: str, step: int):
    return client.post(
        "/api/v1/subscriptions",
        json={"email": address, "languages": ["en"]},
        environ_base={"REMOTE_ADDR": f"198.51.100.{step % 250 + 1}"},
    )


def _drain(_app) -> None:
    worker.run(once=True, poll_seconds=0.05)
    db.session.expire_all()


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("victim+news@gmail.com", "victim@gmail.com"),
        ("v.i.c.t.i.m@googlemail.com", "victim@gmail.com"),
        ("V.Ictim+A+B@GoogleMail.com", "victim@gmail.com"),
        ("first.last+tag@example.org", "first.last@example.org"),
        ("+only@example.org", "+only@example.org"),
        ("reader@example.org", "reader@example.org"),
    ],
)
def test_mailbox_key_folds_what_reaches_one_inbox(spelling, key):
    assert mailbox_key(spelling) == key


def test_mailbox_digest_is_keyed_and_holds_no_address():
    digest = mailbox_digest("victim+1@gmail.com", "one secret")
    assert digest == mailbox_digest("v.ictim@googlemail.com", "one secret")
    assert digest != mailbox_digest("victim@gmail.com", "another secret")
    assert "victim" not in digest and len(digest) == 32


def test_seventy_spellings_of_one_gmail_inbox_get_at_most_the_per_address_limit(
    limits_as_shipped, app, client, smtp_server
):
    """70 requests, each in a new resend window and from its own client address, within one day."""
    window = app.config["CONFIRM_RESEND_SECONDS"] + 1
    start = utcnow()
    for step, address in enumerate(gmail_variants(70)):
        with time_machine.travel(start + timedelta(seconds=step * window)):
            assert _subscribe(client, address, step).status_code == 202
    with time_machine.travel(start + timedelta(seconds=70 * window)):  # every queued confirmation is due
        _drain(app)
    recipients = [message.recipients for message in smtp_server.messages]
    assert len(recipients) == PER_ADDRESS
    assert all(mailbox_key(address) == "victim@gmail.com" for [address] in recipients)


def test_the_resend_window_covers_every_spelling(limits_as_shipped, app, client, smtp_server):
    for step, address in enumerate(gmail_variants(70)):
        assert _subscribe(client, address, step).status_code == 202
    assert _subscribe(client, "someone.else@gmail.com", 0).status_code == 202
    _drain(app)
    assert sorted(mailbox_key(message.recipients[0]) for message in smtp_server.messages) == [
        "someoneelse@gmail.com",
        "victim@gmail.com",
    ]
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 2


def test_spellings_stay_separate_subscribers(limits_as_shipped, app, client):
    """The key counts limits only: a second spelling asked for after the window is its own subscriber."""
    assert _subscribe(client, "victim@gmail.com", 0).status_code == 202
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["CONFIRM_RESEND_SECONDS"] + 1)):
        assert _subscribe(client, "victim+work@gmail.com", 1).status_code == 202
    emails = set(db.session.scalars(select(Subscriber.email)))
    assert emails == {"victim@gmail.com", "victim+work@gmail.com"}


def test_closed_windows_are_purged_with_stale_requests(limits_as_shipped, app, client):
    assert _subscribe(client, "victim@gmail.com", 0).status_code == 202
    assert db.session.scalar(select(func.count()).select_from(MailboxMail)) == 1
    subscriptions.purge_pending(current_settings().privacy.confirm_max_age, now=utcnow() + timedelta(days=30))
    assert db.session.scalar(select(func.count()).select_from(MailboxMail)) == 0
