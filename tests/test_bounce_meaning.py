"""Bounces read by meaning: delays never count, blocks of the sender never suppress the reader but pause the
edition, a broken report never blocks the rest, and a wrong wave can be given back."""

from __future__ import annotations

import mailbox
import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from fixtures.bounces import arf, dsn, send_to_bounce_server, sent_delivery
from fixtures.delivery import add_edition, add_subscribers
from fixtures.settings import current_settings, secret
from prometheus_client.parser import text_string_to_metric_families

from newsletter.core.extensions import db
from newsletter.models import BounceEvent, Edition, Subscriber, Suppression, utcnow
from newsletter.models.subscribers import SuppressionCause

BLOCKED = "smtp; 550 5.7.1 [203.0.113.9] Our system has detected that this message is likely unsolicited mail; blocked"


def suppressed() -> dict[str, str]:
    db.session.expire_all()
    return dict(db.session.execute(db.select(Suppression.email, Suppression.cause)).all())


def _maildir(tmp_path, reports: list[bytes]):
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(str(folder), create=True)
    for report in reports:
        box.add(report)
    return folder


def _sending_edition_to(count: int) -> tuple[Edition, list[tuple[str, str]]]:
    """An edition being sent to `count` readers: the edition and each reader's (VERP, address)."""
    from newsletter.delivery.verp import envelope_sender
    from newsletter.models import Delivery

    ids = add_subscribers(count, prefix="gmailreader")
    edition = add_edition()
    sent_delivery("gmailreader0@example.net", edition.id, ids[0])  # sends the edition to all of them
    rows = db.session.execute(
        db.select(Delivery.id, Subscriber.email)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.edition_id == edition.id)
    ).all()
    db.session.execute(db.update(Edition).where(Edition.id == edition.id).values(status="sending"))
    db.session.commit()
    domain = current_settings().mail.envelope_domain
    return edition, [(envelope_sender(id_, secret=secret(), domain=domain), address) for id_, address in rows]


def test_three_delay_warnings_on_three_editions_suppress_nobody(runner, app, tmp_path):
    [subscriber_id] = add_subscribers(1)
    reports = []
    for week in (10, 17, 24):
        edition = add_edition(week=utcnow().date().replace(day=week))
        _delivery, verp, _ = sent_delivery("reader0@example.net", edition.id, subscriber_id)
        reports.append(dsn(verp, "reader0@example.net", "4.4.7", action="delayed", tag=f" {week}"))
    result = runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, reports))])
    assert result.exit_code == 0, result.output
    assert suppressed() == {}
    assert {event.kind for event in db.session.scalars(db.select(BounceEvent))} == {"ignored"}


def test_version_numbers_in_the_returned_original_are_not_read_as_a_status(app):
    from newsletter.bounces.parsing import parse

    report = (
        b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nThe mail system: your message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 4.4.1\r\n"
        b"Diagnostic-Code: X-Postfix; connect to mx.example.net: Connection timed out\r\n\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\nReceived: by relay (Postfix 5.1.1) with version 2.0.13\r\n"
        b"X-Mailer: mailer 5.1.1\r\nSubject: hi\r\n\r\nuser unknown 5.1.1\r\n--B--\r\n"
    )
    parsed = parse(report)
    assert (parsed.kind, parsed.status, parsed.reason) == ("soft", "4.4.1", "network")


@pytest.fixture
def metrics_token(app_config):
    app_config["METRICS_TOKEN"] = "metrics-secret"


def test_a_burst_of_blocks_pauses_the_edition_and_suppresses_nobody(metrics_token, runner, tmp_path, admin_client):
    edition, sent = _sending_edition_to(30)
    reports = [dsn(verp, address, "5.7.1", diagnostic=BLOCKED) for verp, address in sent]
    result = runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, reports))])
    assert result.exit_code == 0 and "30 applied" in result.output, result.output
    assert suppressed() == {}
    db.session.expire_all()
    paused = db.session.get(Edition, edition.id)
    assert paused.status == "paused"
    assert "bounce reports about the sender" in paused.paused_reason and "5.7.1" in paused.paused_reason

    page = admin_client.get(f"/console/editions/{edition.id}/sending")
    assert "5.7.1" in page.get_data(as_text=True) and 'id="paused-reason"' in page.get_data(as_text=True)
    samples = _metrics(admin_client)
    assert samples[("newsletter_editions_paused", (("why", "bounce_reports"),))] == 1
    assert samples[("newsletter_bounce_reports", (("kind", "about_us"),))] == 30
    assert samples[("newsletter_bounce_reports_about_us", (("domain", "example.net"),))] == 30
    ready = admin_client.get("/readyz").json
    assert ready["sending"]["paused"][0]["edition"] == edition.id

    resumed = runner.invoke(args=["sending", "resume", str(edition.id)])
    assert resumed.exit_code == 0, resumed.output
    db.session.expire_all()
    assert db.session.get(Edition, edition.id).status == "sending"


def _metrics(client) -> dict:
    response = client.get("/metrics", headers={"Authorization": "Bearer metrics-secret"})
    assert response.status_code == 200, response.get_data(as_text=True)
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _nested(depth: int) -> bytes:
    head = b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nx\r\n" + closing


def test_a_2000_level_nested_message_is_kept_and_the_next_report_is_applied(runner, one_sent, tmp_path, app):
    _delivery, verp, _message_id, address = one_sent
    deep = _nested(2000)
    assert len(deep) > 80_000
    folder = _maildir(tmp_path, [deep, dsn(verp, address, "5.1.1", diagnostic="smtp; 550 5.1.1 user unknown")])
    result = runner.invoke(args=["bounces", "process", "--maildir", str(folder)])
    assert result.exit_code == 0, result.output
    assert "1 applied" in result.output and "1 unrecognised" in result.output
    assert suppressed() == {address: "hard_bounce"}
    assert list((folder / "new").iterdir()) == []
    kept = list(Path(app.config["BOUNCE_KEEP_DIR"]).glob("*.eml"))
    assert [path.read_bytes() for path in kept] == [deep]


def test_over_smtp_a_deeply_nested_message_gets_a_final_answer(bounce_server, one_sent):
    _delivery, verp, _message_id, _address = one_sent
    with smtplib.SMTP("127.0.0.1", bounce_server.port, timeout=60) as client:
        client.ehlo()
        client.mail("")
        client.rcpt(verp)
        code, answer = client.data(_nested(2000))
    assert code == 250, answer


def test_a_nul_in_a_diagnostic_is_dropped_before_the_database(bounce_server, one_sent):
    _delivery, verp, _message_id, address = one_sent
    send_to_bounce_server(
        bounce_server, verp, dsn(verp, address, "5.1.1", diagnostic="smtp; 550 5.1.1 no\x00 such user")
    )
    event = db.session.scalar(db.select(BounceEvent))
    assert event.diagnostic == "550 5.1.1 no such user" and suppressed() == {address: "hard_bounce"}


def test_arf_opt_out_unsubscribes_without_a_complaint_and_not_spam_does_nothing(runner, one_sent, tmp_path):
    _delivery, verp, message_id, address = one_sent
    reports = [
        arf(verp, address, message_id=message_id, verp=verp, feedback_type="not-spam"),
        arf(verp, address, message_id=message_id, verp=verp, feedback_type="auth-failure"),
    ]
    runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, reports))])
    db.session.expire_all()
    assert db.session.scalar(db.select(Subscriber.status)) == "confirmed" and suppressed() == {}
    opt_out = arf(verp, address, message_id=message_id, verp=verp, feedback_type="opt-out")
    runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, [opt_out]))])
    db.session.expire_all()
    assert db.session.scalar(db.select(Subscriber.status)) == "unsubscribed" and suppressed() == {}


def test_a_microsoft_jmrp_report_is_a_complaint(runner, one_sent, tmp_path):
    _delivery, verp, message_id, address = one_sent
    jmrp = (
        f"From: staff@hotmail.com\r\nTo: {verp}\r\nSubject: complaint about message from 192.0.2.1\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="J"\r\n\r\n'
        "--J\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        f"--J\r\nContent-Type: message/rfc822\r\n\r\nX-HmXmrOriginalRecipient: <{address}>\r\n"
        f"Return-Path: <{verp}>\r\nMessage-ID: {message_id}\r\nSubject: Belarus Weekly\r\n\r\nThe digest.\r\n--J--\r\n"
    ).encode()
    runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, [jmrp]))])
    assert suppressed() == {address: "complaint"}


def test_an_ses_complaint_delivered_by_email_unsubscribes(runner, one_sent, tmp_path):
    import json

    _delivery, verp, message_id, address = one_sent
    notification = {
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": address}], "complaintFeedbackType": "abuse"},
        "mail": {"source": verp, "returnPath": verp, "commonHeaders": {"messageId": message_id}},
    }
    report = (
        f"From: no-reply@sns.amazonaws.com\r\nTo: {verp}\r\nSubject: AWS Notification Message\r\n"
        f"Content-Type: text/plain\r\n\r\n{json.dumps(notification)}\r\n"
    ).encode()
    runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, [report]))])
    db.session.expire_all()
    assert suppressed() == {address: "complaint"}
    assert db.session.scalar(db.select(Subscriber.status)) == "unsubscribed"


def test_suppression_restore_gives_back_exactly_the_wave(runner, app, one_sent, tmp_path):
    from newsletter.subscribers import suppression

    secret = app.config["SECRET_KEY"]
    before = utcnow() - timedelta(days=2)
    suppression.suppress("old@example.org", SuppressionCause.HARD_BOUNCE, "5.7.1 blocked", secret)
    db.session.execute(db.update(Suppression).values(created_at=before))
    for number in range(5):
        suppression.suppress(f"wave{number}@gmail.com", SuppressionCause.HARD_BOUNCE, "5.7.1 blocked by policy", secret)
    suppression.suppress("real@example.org", SuppressionCause.HARD_BOUNCE, "5.1.1 user unknown", secret)
    suppression.suppress("angry@gmail.com", SuppressionCause.COMPLAINT, "complaint: 5.7.1 blocked", secret)
    db.session.commit()
    since = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    listed = runner.invoke(args=["suppression", "list", "--reason", "5.7.1", "--since", since, "--json"])
    assert listed.exit_code == 0 and listed.output.count('"email"') == 6, listed.output
    dry = runner.invoke(args=["suppression", "restore", "--reason", "5.7.1", "--since", since, "--dry-run"])
    assert dry.exit_code == 0 and len(suppressed()) == 8
    done = runner.invoke(args=["suppression", "restore", "--reason", "5.7.1", "--since", since])
    assert done.exit_code == 0, done.output
    assert sorted(done.stdout.split()) == [f"wave{number}@gmail.com" for number in range(5)]
    assert set(suppressed()) == {"old@example.org", "real@example.org", "angry@gmail.com"}
    from newsletter.models import ActivityEntry

    assert db.session.scalar(db.select(ActivityEntry.action).order_by(ActivityEntry.id.desc())) == "suppression_restore"


def test_only_an_admin_restores_a_wave_in_the_console(app, client, make_account):
    from fixtures.console import post_form, sign_in

    from newsletter.subscribers import suppression

    suppression.suppress("wave@gmail.com", SuppressionCause.HARD_BOUNCE, "5.7.1 blocked", app.config["SECRET_KEY"])
    db.session.commit()
    today = utcnow().date().isoformat()
    sign_in(client, make_account("Pavel", role="editor"))
    refused = post_form(
        client, "/console/suppressions/restore", {"reason": "5.7.1", "since": today}, token_from="/console/week"
    )
    assert refused.status_code == 403 and suppressed() == {"wave@gmail.com": "hard_bounce"}
    client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None
    admin = app.test_client()
    sign_in(admin, make_account("Alena", role="admin"))
    page = admin.get(f"/console/suppressions?reason=5.7.1&since={today}")
    assert 'id="wave-size"' in page.get_data(as_text=True)
    post_form(admin, "/console/suppressions/restore", {"reason": "5.7.1", "since": today}, token_from="/console/week")
    assert suppressed() == {}


def test_reading_reports_logs_no_address_at_info(runner, one_sent, tmp_path, caplog):
    import logging

    _delivery, verp, _message_id, address = one_sent
    qmail = (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {verp}\r\nSubject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at mx.example.net.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        f"This is a permanent error; I've given up.\r\n\r\n<{address}>:\r\nSorry, no mailbox here by that name.\r\n"
    ).encode()
    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(args=["bounces", "process", "--maildir", str(_maildir(tmp_path, [qmail]))])
    assert "1 applied" in result.output
    assert not [record for record in caplog.records if address in record.getMessage()]
