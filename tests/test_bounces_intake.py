"""Bounce intake by SMTP (`bounces serve`) and from mailboxes (`bounces process`), and the bad cases."""

from __future__ import annotations

import mailbox
import smtplib
from pathlib import Path

import pytest
from fixtures.bounces import arf, dsn, qmail_bounce, send_to_bounce_server, unknown_format

from newsletter.core.extensions import db
from newsletter.delivery.verp import envelope_sender
from newsletter.models import BounceEvent, Subscriber, Suppression


def suppressed_emails() -> set[str]:
    return set(db.session.scalars(db.select(Suppression.email)))


def events() -> list[BounceEvent]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(BounceEvent).order_by(BounceEvent.id)))


def test_a_hard_bounce_over_smtp_suppresses_the_address_with_reason_time_and_delivery(bounce_server, one_sent):
    delivery, verp, _message_id, address = one_sent
    send_to_bounce_server(bounce_server, verp, dsn(verp, address, "5.1.1"))
    entry = db.session.scalar(db.select(Suppression).filter_by(email=address))
    assert entry.cause == "hard_bounce" and entry.delivery_id == delivery.id
    assert "5.1.1" in entry.reason and entry.created_at is not None
    [event] = events()
    assert (event.kind, event.delivery_id, event.status, event.source) == ("hard", delivery.id, "5.1.1", "smtp")


def test_the_bounce_server_refuses_recipients_with_a_bad_mac_or_not_ours(bounce_server, one_sent):
    delivery, verp, _message_id, address = one_sent
    forged = verp.replace(verp.split("-")[1][:10], "0000000000")
    for recipient in (forged, "postmaster@newsletter.test", "bounces+abc-x@newsletter.test"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send_to_bounce_server(bounce_server, recipient, dsn(recipient, address))
        assert refused.value.recipients[recipient][0] == 550
    assert events() == [] and suppressed_emails() == set()


def test_a_dsn_for_a_delivery_that_does_not_exist_is_kept_and_reported(app, bounce_server, one_sent):
    ghost = envelope_sender(999999)
    send_to_bounce_server(bounce_server, ghost, dsn(ghost, "someone@example.net"))
    [event] = events()
    assert event.delivery_id is None and event.kind == "hard"
    assert suppressed_emails() == set()
    assert len(list(Path(app.config["BOUNCE_KEEP_DIR"]).iterdir())) == 1


def test_the_bounce_server_refuses_a_30_mb_message_at_the_size_limit(bounce_server, one_sent):
    _delivery, verp, _message_id, address = one_sent
    huge = dsn(verp, address) + b"X" * 78 + b"\r\n"
    huge += (b"Y" * 998 + b"\r\n") * (30 * 1024 * 1024 // 1000)
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused, smtplib.SMTPServerDisconnected)) as refused:
        send_to_bounce_server(bounce_server, verp, huge)
    if hasattr(refused.value, "smtp_code"):
        assert refused.value.smtp_code == 552
    assert events() == [] and suppressed_emails() == set()


def test_an_unknown_format_is_kept_and_reported_not_dropped(app, runner, one_sent, tmp_path):
    _delivery, verp, _message_id, _address = one_sent
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(unknown_format(verp))
    result = runner.invoke(args=["bounces", "process", "--maildir", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert "1 unrecognised" in result.output and "kept for reading" in result.output
    [event] = events()
    assert event.kind == "unrecognised"
    kept_path = result.output.split("kept for reading (not applied): ")[1].split()[0]
    assert unknown_format(verp) == Path(kept_path).read_bytes()
    assert suppressed_emails() == set()


def test_maildir_processing_handles_each_message_once_and_moves_it_to_cur(runner, one_sent, tmp_path):
    _delivery, verp, message_id, address = one_sent
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(str(folder), create=True)
    box.add(dsn(verp, address, "4.2.2"))
    box.add(
        qmail_bounce("postmaster@newsletter.test", address).replace(
            b"Return-Path: <x>", f"Message-ID: {message_id}".encode()
        )
    )
    first = runner.invoke(args=["bounces", "process", "--maildir", str(folder)])
    assert "2 applied" in first.output, first.output
    assert list((folder / "new").iterdir()) == [] and len(list((folder / "cur").iterdir())) == 2
    second = runner.invoke(args=["bounces", "process", "--maildir", str(folder)])
    assert "0 applied" in second.output
    assert sorted(event.kind for event in events()) == ["hard", "soft"]  # maildir keys sort in no fixed order


def test_the_original_message_id_ties_a_report_without_a_verp_address(app, one_sent, tmp_path, runner):
    delivery, _verp, message_id, address = one_sent
    report = arf("fbl@newsletter.test", address, message_id=message_id)
    (tmp_path / "box").write_bytes(b"From fbl@isp.example Mon Jan 17 10:00:00 2022\n" + report.replace(b"\r\n", b"\n"))
    result = runner.invoke(args=["bounces", "process", "--mbox", str(tmp_path / "box")])
    assert "1 applied" in result.output, result.output
    entry = db.session.scalar(db.select(Suppression).filter_by(email=address))
    assert entry.cause == "complaint" and entry.delivery_id == delivery.id
    assert db.session.scalar(db.select(Subscriber.status).filter_by(email=address)) == "unsubscribed"


def test_an_arf_report_without_the_original_is_applied_by_its_verp_recipient(bounce_server, one_sent):
    delivery, verp, _message_id, address = one_sent
    send_to_bounce_server(bounce_server, verp, arf(verp, address, with_original=False))
    [event] = events()
    assert (event.kind, event.delivery_id) == ("complaint", delivery.id)
    assert address in suppressed_emails()


def test_an_arf_report_without_the_original_and_without_verp_is_kept_not_guessed(runner, one_sent, tmp_path):
    _delivery, _verp, _message_id, address = one_sent
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(arf("fbl@newsletter.test", address, with_original=False))
    result = runner.invoke(args=["bounces", "process", "--maildir", str(tmp_path / "Maildir")])
    assert "1 unmatched" in result.output and "kept for reading" in result.output
    assert suppressed_emails() == set()
    assert db.session.scalar(db.select(Subscriber.status).filter_by(email=address)) == "confirmed"


def test_a_truncated_mbox_keeps_its_good_messages_and_reports_the_cut_one(runner, one_sent, tmp_path):
    _delivery, verp, _message_id, address = one_sent
    good = dsn(verp, address, "5.1.1").replace(b"\r\n", b"\n")
    cut = dsn(verp, address, "4.2.2", tag=" again").replace(b"\r\n", b"\n")[:300]
    path = tmp_path / "box"
    path.write_bytes(
        b"From MAILER-DAEMON Mon Jan 17 10:00:00 2022\n"
        + good
        + b"\nFrom MAILER-DAEMON Mon Jan 17 10:01:00 2022\n"
        + cut
    )
    result = runner.invoke(args=["bounces", "process", "--mbox", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 applied" in result.output and "1 unrecognised" in result.output
    assert address in suppressed_emails()


def test_process_needs_exactly_one_mailbox_and_an_existing_one(runner, tmp_path):
    assert runner.invoke(args=["bounces", "process"]).exit_code == 2
    (tmp_path / "plain").mkdir()
    result = runner.invoke(args=["bounces", "process", "--maildir", str(tmp_path / "plain")])
    assert result.exit_code == 1 and "is not a maildir" in result.output


def test_a_mailed_report_with_a_forged_verp_mac_names_nothing_and_is_kept(runner, one_sent, tmp_path):
    _delivery, verp, _message_id, address = one_sent
    forged = verp.replace(verp.split("-")[1][:10], "0000000000")
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(dsn(forged, address, "5.1.1").replace(f"Return-Path: <{forged}>".encode(), b"X-No-Return-Path: 1"))
    result = runner.invoke(args=["bounces", "process", "--maildir", str(tmp_path / "Maildir")])
    assert "1 unmatched" in result.output and "kept for reading" in result.output
    assert suppressed_emails() == set()


def test_the_bounces_serve_command_takes_reports_until_stopped(app, one_sent, tmp_path):
    import signal
    import subprocess

    from fixtures.bounces import free_port
    from fixtures.delivery import NEWSLETTER, wait_for

    delivery, verp, _message_id, address = one_sent
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": app.config["DATABASE_URL"],
        "NEWSLETTER_SECRET_KEY": app.config["SECRET_KEY"],
        "NEWSLETTER_MAIL_FROM": app.config["MAIL_FROM"],
    }
    server = subprocess.Popen(
        [NEWSLETTER, "bounces", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def delivered() -> bool:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("", [verp], dsn(verp, address, "5.1.1"))
                return True
            except OSError:
                return False

        wait_for(delivered, seconds=60)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0 and "Traceback" not in output, output
    assert address in suppressed_emails()


def test_a_database_failure_mid_mailbox_loses_nothing_and_counts_nothing_twice(runner, one_sent, tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from newsletter.bounces import rules

    _delivery, verp, _message_id, address = one_sent
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(str(folder), create=True)
    box.add(dsn(verp, address, "4.2.2", tag=" first"))
    box.add(dsn(verp, address, "4.2.2", tag=" second"))
    real_handle, calls = rules.handle, []

    def failing_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("INSERT", {}, Exception("database went away"))
        return real_handle(*args, **kwargs)

    monkeypatch.setattr(rules, "handle", failing_second)
    failed = runner.invoke(args=["bounces", "process", "--maildir", str(folder)])
    assert failed.exit_code == 1 and "a second run does not count any report twice" in failed.output
    assert len(failed.output.strip().splitlines()) == 1
    assert len(list((folder / "new").iterdir())) == 1
    monkeypatch.setattr(rules, "handle", real_handle)
    again = runner.invoke(args=["bounces", "process", "--maildir", str(folder)])
    assert "1 applied" in again.output
    assert [event.kind for event in events()] == ["soft", "soft"]
