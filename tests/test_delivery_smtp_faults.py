"""A misbehaving SMTP server loses nothing and duplicates nothing (the real aiosmtpd server on loopback)."""

from __future__ import annotations

import pytest
from fixtures.delivery import add_edition, add_subscribers, assert_each_once, emails_of, recipients, statuses
from fixtures.smtp import ACCEPT, DROP, slow

from newsletter.core.extensions import db
from newsletter.delivery import ledger, worker
from newsletter.models import Delivery, Suppression


def _send(count: int = 6):
    ids = add_subscribers(count, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition, emails_of(ids)


def _run():
    return worker.run(once=True, poll_seconds=0.05)


@pytest.mark.parametrize(
    "stage, reply",
    [
        ("MAIL", "421 4.3.2 service shutting down"),
        ("MAIL", "451 4.3.0 try again later"),
        ("RCPT", "452 4.2.2 mailbox full"),
        ("RCPT", "454 4.7.1 relay access temporarily denied"),
        ("DATA", "451 4.3.0 queue busy"),
    ],
)
def test_temporary_refusals_are_retried_until_accepted(fast_smtp_config, app, smtp_server, stage, reply):
    edition, emails = _send()
    smtp_server.reply_next(stage, reply)

    progress = _run()

    assert not smtp_server.handler.script[stage], "the scripted refusal was never used"
    assert progress.retried == 1 and progress.sent == len(emails)
    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": len(emails)}
    assert db.session.get(ledger.Edition, edition.id).status == "sent"


@pytest.mark.parametrize(
    "stage, reply, suppressed",
    [
        ("RCPT", "550 5.1.1 no such user", True),
        ("RCPT", "551 5.1.6 user has moved", True),
        ("RCPT", "553 5.1.3 bad destination mailbox address syntax", True),
        ("RCPT", "550 5.7.1 policy rejection", False),
        ("MAIL", "553 5.1.8 sender domain does not exist", False),
        ("DATA", "550 5.6.0 content rejected", False),
    ],
)
def test_permanent_refusals_are_recorded_and_unknown_users_suppressed(
    fast_smtp_config, app, smtp_server, stage, reply, suppressed
):
    edition, emails = _send()
    smtp_server.reply_next(stage, reply)

    _run()

    failed = db.session.scalars(db.select(Delivery).where(Delivery.status == "failed")).one()
    assert failed.last_reply == reply and failed.attempts == 1
    failed_email = failed and db.session.get(ledger.Subscriber, failed.subscriber_id).email
    assert_each_once(smtp_server, [address for address in emails if address != failed_email])
    assert failed_email not in {r for message in smtp_server.messages for r in message.recipients}
    assert (db.session.scalar(db.select(Suppression).filter_by(email=failed_email)) is not None) is suppressed
    assert ledger.edition_counts(edition.id)["failed"] == 1


def test_a_suppressed_address_is_skipped_by_future_sends(fast_smtp_config, app, smtp_server):
    edition, emails = _send(3)
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")
    _run()
    second = add_edition("en", week=edition.week_start.replace(day=17))

    assert ledger.enqueue_edition(second) == 2
    _run()

    assert ledger.edition_counts(second.id)["suppressed"] == 1
    assert ledger.edition_counts(second.id)["sent"] == 2
    assert len(smtp_server.messages) == 4


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA", "BODY"])
def test_dropped_connections_lose_nothing(fast_smtp_config, app, smtp_server, stage):
    edition, emails = _send(8)
    smtp_server.reply_next(stage, DROP)

    _run()

    assert_each_once(smtp_server, emails)
    retried = db.session.scalars(db.select(Delivery).where(Delivery.attempts == 2)).one()
    assert retried.status == "sent"


def test_a_421_mid_batch_closing_the_connection_loses_nothing(fast_smtp_config, app, smtp_server):
    edition, emails = _send(20)
    smtp_server.reply_next("MAIL", None, None, None, "421 4.7.0 too many messages, closing")

    _run()

    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 20}


def test_slow_acceptance_past_the_timeout_is_retried_with_the_same_message_id(fast_smtp_config, app, smtp_server):
    app.config.update(SMTP_TIMEOUT=0.5, SMTP_CONNECTIONS=1)
    edition, emails = _send(3)
    smtp_server.reply_next("DATA", slow(1.2))

    _run()

    late = {address for address, count in recipients(smtp_server.messages).items() if count > 1}
    assert len(late) <= 1
    assert_each_once(smtp_server, emails, except_duplicates_of=late)
    assert db.session.scalars(db.select(Delivery).where(Delivery.attempts == 2)).one().status == "sent"
    assert statuses(edition.id) == {"sent": 3}


def test_a_server_without_starttls_gets_nothing_in_clear_text(fast_smtp_config, app, smtp_server):
    app.config.update(SMTP_URL=smtp_server.url + "?starttls=true", RETRY_MAX_AGE_SECONDS=0.3)
    edition, _emails = _send(2)

    _run()

    assert smtp_server.messages == []
    rows = db.session.scalars(db.select(Delivery)).all()
    assert {row.status for row in rows} == {"failed"}
    assert all("TLS" in row.last_reply for row in rows)


def test_an_untrusted_certificate_is_refused_by_default(fast_smtp_config, app, smtp_tls_server):
    app.config.update(SMTP_URL=smtp_tls_server.url + "?starttls=true", RETRY_MAX_AGE_SECONDS=0.3)
    _edition, _emails = _send(2)

    _run()

    assert smtp_tls_server.messages == []
    assert statuses() == {"failed": 2}


def test_starttls_sends_when_verification_is_explicitly_off(fast_smtp_config, app, smtp_tls_server):
    app.config.update(SMTP_URL=smtp_tls_server.url + "?starttls=true&verify=false")
    _edition, emails = _send(2)

    _run()

    assert_each_once(smtp_tls_server, emails)


def test_sendmail_path_without_pipelining(fast_smtp_config, app, smtp_server):
    smtp_server.handler.pipelining = False
    edition, emails = _send(4)
    smtp_server.reply_next("RCPT", "451 4.3.0 later", "550 5.1.1 no such user")

    _run()

    assert ledger.edition_counts(edition.id)["sent"] == 3
    assert ledger.edition_counts(edition.id)["failed"] == 1


@pytest.mark.parametrize(
    "scripted",
    [
        {"DATA": ["554 5.6.0 content refused"]},  # the content of a message whose successor's envelope went with it
        {"RCPT": [ACCEPT, "550 5.1.1 no such user"]},  # the recipient of an envelope sent ahead
        {"RCPT": [ACCEPT, "451 4.3.0 later"]},
        {"DATA": ["close:421 4.3.2 shutting down"]},  # the relay closes after a content, the next envelope lost
    ],
    ids=["content-refused", "announced-recipient-refused", "announced-recipient-deferred", "closed-after-content"],
)
def test_one_connection_sending_each_envelope_ahead_loses_and_repeats_nothing(
    fast_smtp_config, app, smtp_server, scripted
):
    """On one connection every message's MAIL, RCPT and DATA travel with the previous message's content (one
    round trip a message); a refusal or a closed connection around such an envelope costs only that message."""
    app.config.update(SMTP_CONNECTIONS=1)
    edition, emails = _send(6)
    for stage, replies in scripted.items():
        smtp_server.reply_next(stage, *replies)

    _run()

    counts = statuses(edition.id)
    delivered = recipients(smtp_server.messages)
    assert all(count == 1 for count in delivered.values())
    assert counts["sent"] == len(delivered) and counts["sent"] + counts.get("failed", 0) == 6
    assert counts.get("failed", 0) == (
        1
        if scripted.get("DATA", [""])[0].startswith("554") or "550 5.1.1 no such user" in scripted.get("RCPT", [])
        else 0
    )
