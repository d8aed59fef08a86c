"""Replies classified by meaning: sender-side refusals suppress nobody, a run of them opens the circuit
breaker, failed deliveries can be retried once, pauses do not age retries, a restarted relay costs nothing."""

from __future__ import annotations

from datetime import timedelta

from fixtures.delivery import add_edition, add_subscribers, assert_each_once, emails_of, statuses
from fixtures.settings import current_settings, smtp_utf8
from fixtures.smtp import DROP
from sqlalchemy import func, select, update

from newsletter import editions
from newsletter.core.extensions import db
from newsletter.delivery import ledger, replies, transport, worker
from newsletter.models import Delivery, Edition, Suppression, utcnow


def _send(count: int):
    emails = emails_of(add_subscribers(count, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition.id, emails


def _suppressed() -> int:
    return db.session.scalar(select(func.count()).select_from(Suppression))


def test_a_sender_address_rejection_suppresses_no_reader(fast_smtp_config, app, smtp_server):
    """Measured before: `550 5.1.8 Sender address rejected` put 500 of 500 readers on the suppression list."""
    edition_id, _emails = _send(30)
    smtp_server.refuse_after(0, "RCPT", "550 5.1.8 <bounces@newsletter.test>: Sender address rejected")

    worker.run(once=True, poll_seconds=0.05)

    assert _suppressed() == 0
    edition = db.session.get(Edition, edition_id)
    assert edition.status == "paused" and "5.1.8" in edition.paused_reason
    assert statuses(edition_id)["failed"] < 10


def test_an_unknown_recipient_is_still_suppressed(fast_smtp_config, app, smtp_server):
    edition_id, emails = _send(3)
    smtp_server.reply_next("RCPT", "550 5.1.1 <someone@example.net>: Recipient address rejected: User unknown")

    worker.run(once=True, poll_seconds=0.05)

    assert _suppressed() == 1
    assert statuses(edition_id) == {"sent": 2, "failed": 1}


def test_a_quota_refusal_pauses_the_edition_and_retry_failed_completes_it(fast_smtp_config, app, smtp_server):
    """Measured before: `550 5.4.5 quota exceeded` after 300 messages failed 1,699 of 2,000 and marked it sent."""
    app.config.update(SMTP_CONNECTIONS=2)
    edition_id, emails = _send(400)
    smtp_server.refuse_after(300, "DATA", "550 5.4.5 Daily sending quota exceeded")

    worker.run(once=True, poll_seconds=0.05)

    edition = db.session.get(Edition, edition_id)
    counts = statuses(edition_id)
    assert edition.status == "paused" and "5.4.5" in edition.paused_reason
    # a run of 10 refusals opens it; a success counted late on the other connection can restart the run once
    assert counts["sent"] == 300 and counts["failed"] <= 10 + 2 and counts["queued"] > 80
    api = (
        app.test_client()
        .get(f"/api/v1/editions/{edition_id}", headers={"Authorization": f"Bearer {_token(app)}"})
        .get_json()
    )
    assert "5.4.5" in api["paused_reason"]

    smtp_server.refuse_after(0, "DATA", None)
    runner = app.test_cli_runner()
    retried = runner.invoke(args=["sending", "retry-failed", str(edition_id), "--reason", "5.4.5"])
    again = runner.invoke(args=["sending", "retry-failed", str(edition_id)])
    resumed = runner.invoke(args=["sending", "resume", str(edition_id)])
    worker.run(once=True, poll_seconds=0.05)

    assert f"{counts['failed']} failed deliveries queued again" in retried.output
    assert "0 failed deliveries queued again" in again.output and resumed.exit_code == 0
    assert_each_once(smtp_server, emails)
    assert statuses(edition_id) == {"sent": 400}
    db.session.expire_all()
    assert db.session.get(Edition, edition_id).status == "sent"


def _token(app) -> str:
    from newsletter.accounts import editors

    return editors.create_editor("ed", smtp_utf8=smtp_utf8())[1]


def test_a_pause_longer_than_the_retry_age_loses_nobody(fast_smtp_config, app, smtp_server):
    """Measured before: after a pause of over 3 days the first 4xx was permanent; 285 of 2,000 got nothing."""
    app.config.update(RETRY_MAX_AGE_SECONDS=3600, SMTP_CONNECTIONS=1)
    edition_id, emails = _send(6)
    long_ago = utcnow() - timedelta(days=3, minutes=20)
    db.session.execute(
        update(Delivery).values(created_at=long_ago, attempts=1, first_deferred_at=long_ago + timedelta(minutes=10))
    )
    db.session.commit()
    editions.pause_edition(edition_id)
    db.session.execute(update(Edition).values(paused_at=utcnow() - timedelta(days=3)))
    db.session.commit()

    editions.resume_edition(edition_id)
    smtp_server.reply_next("RCPT", DROP, "451 4.3.0 try again later", DROP)
    worker.run(once=True, poll_seconds=0.05)

    assert_each_once(smtp_server, emails)
    assert statuses(edition_id) == {"sent": 6}


def test_a_relay_restarted_between_messages_costs_no_deferral(fast_smtp_config, app, smtp_server):
    """Measured before: a stale pooled connection after a relay restart cost a deferral each."""
    settings = current_settings().mail.smtp()
    connection = transport.SmtpTransport(settings)
    message = b"From: a@newsletter.test\r\nTo: b@example.net\r\nSubject: x\r\n\r\nbody\r\n"
    connection.send("a@newsletter.test", "b@example.net", message)

    smtp_server.restart()
    reply = connection.send("a@newsletter.test", "c@example.net", message)
    connection.close()

    assert reply.code == 250
    assert [received.recipients for received in smtp_server.messages] == [["b@example.net"], ["c@example.net"]]


def test_a_message_with_bare_line_feeds_is_sent(fast_smtp_config, app, smtp_server):
    connection = transport.SmtpTransport(current_settings().mail.smtp())
    reply = connection.send("a@newsletter.test", "b@example.net", b"Subject: x\n\nline one\nline two\n")
    connection.close()
    assert reply.code == 250 and b"line one\r\nline two" in smtp_server.messages[0].data


def test_replies_are_classified_by_what_they_are_about():
    reply = replies.SmtpReply
    assert reply(550, "5.1.1 no such user", replies.RCPT).unknown_recipient
    assert not reply(550, "5.1.8 sender rejected", replies.RCPT).unknown_recipient
    assert reply(550, "5.1.8 sender rejected", replies.RCPT).systemic
    assert reply(550, "5.1.7 bad sender mailbox syntax", replies.RCPT).systemic
    assert reply(552, "5.2.2 mailbox full", replies.RCPT).about_recipient
    assert reply(554, "5.7.1 relay access denied", replies.RCPT).systemic
    assert reply(550, "5.4.5 quota exceeded", replies.DATA).systemic
    assert reply(535, "5.7.8 authentication failed", replies.MAIL).systemic
    assert not reply(451, "4.3.0 later", replies.RCPT).systemic
    assert reply(550, "5.1.1 <bob@example.org> unknown", replies.RCPT).for_log() == "550 5.1.1 <address> unknown"


def test_confirmations_going_through_do_not_keep_the_breaker_of_a_failing_digest_shut():
    from newsletter.delivery.breaker import CircuitBreaker

    breaker = CircuitBreaker(threshold=3)
    quota = replies.SmtpReply(550, "5.4.5 quota exceeded", replies.DATA)
    opened = []
    for _ in range(3):
        opened.append(breaker.refused(7, quota))
        breaker.succeeded(None)  # a confirmation was accepted meanwhile
        breaker.succeeded(8)  # and a message of another edition
    assert opened == [False, False, True] and 7 in breaker.opened()


def test_a_recipient_refused_at_data_is_not_counted_against_the_sending_side():
    assert replies.SmtpReply(550, "5.1.1 mailbox unavailable", replies.DATA).about_recipient
    assert replies.SmtpReply(554, "5.6.0 message content rejected", replies.DATA).systemic
