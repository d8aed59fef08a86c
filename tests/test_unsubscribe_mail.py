"""Unsubscribing by email: mailto: List-Unsubscribe requests read from a maildir or an mbox file."""

from __future__ import annotations

import logging
import mailbox
from email.header import Header
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from fixtures.settings import current_settings
from sqlalchemy import select

from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.models import Subscriber
from newsletter.models.subscribers import CONFIRMED, UNSUBSCRIBED


def mailto_subject(app, subscriber: Subscriber) -> str:
    """The Subject a mail client fills in from the digest's List-Unsubscribe mailto: link."""
    with app.app_context():
        mailto = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email).unsubscribe_mailto
    return parse_qs(urlsplit(mailto).query)["subject"][0]


def message(sender: str, subject: str, body: str = "") -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "unsubscribe@example.org", subject
    mail.set_content(body or "Sent from my phone")
    return mail.as_bytes()


def statuses() -> dict[str, str]:
    db.session.expire_all()
    return {row.email: row.status for row in db.session.scalars(select(Subscriber))}


def test_maildir_requests_unsubscribe_once_and_are_moved_out_of_new(app, runner, tmp_path, add_subscriber, caplog):
    by_subject = add_subscriber("subject@example.org", ["en"])
    by_body = add_subscriber("body@example.org", ["ru"])
    add_subscriber("stays@example.org", ["be"])
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(message("subject@example.org", mailto_subject(app, by_subject)))
    token = mailto_subject(app, by_body).split(" ", 1)[1]
    box.add(message("body@example.org", "Re: Belarus Weekly", f"Please stop.\n\nunsubscribe {token}\n"))
    box.add(message("someone@example.org", "unsubscribe me please"))
    box.add(message("forger@example.org", "unsubscribe " + token[:-3] + "abc"))
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(args=["subscribers", "unsubscribe-mail", "--maildir", str(tmp_path / "Maildir")])
    assert result.exit_code == 0, result.output
    assert "2 unsubscribed, 0 already unsubscribed, 2 without a valid token" in result.stdout
    assert result.stderr.count("no valid unsubscribe token; ignored") == 2
    assert statuses() == {
        "subject@example.org": UNSUBSCRIBED,
        "body@example.org": UNSUBSCRIBED,
        "stays@example.org": CONFIRMED,
    }
    assert "@" not in caplog.text and "@" not in result.output
    assert not list((tmp_path / "Maildir" / "new").iterdir())
    assert len(list((tmp_path / "Maildir" / "cur").iterdir())) == 4
    again = runner.invoke(args=["subscribers", "unsubscribe-mail", "--maildir", str(tmp_path / "Maildir")])
    assert "0 unsubscribed, 0 already unsubscribed, 0 without a valid token" in again.stdout


def test_mbox_requests_are_handled_and_removed(app, runner, tmp_path, add_subscriber):
    reader = add_subscriber("reader@example.org", ["en"])
    path = tmp_path / "unsubscribe.mbox"
    box = mailbox.mbox(str(path), create=True)
    encoded = Header(mailto_subject(app, reader), "utf-8").encode()
    box.add(f"From: reader@example.org\nSubject: {encoded}\n\nSent from my phone\n".encode())
    box.add(message("reader@example.org", mailto_subject(app, reader)))
    box.flush()
    box.close()
    result = runner.invoke(args=["subscribers", "unsubscribe-mail", "--mbox", str(path)])
    assert "1 unsubscribed, 1 already unsubscribed, 0 without a valid token" in result.stdout, result.output
    assert statuses() == {"reader@example.org": UNSUBSCRIBED}
    again = runner.invoke(args=["subscribers", "unsubscribe-mail", "--mbox", str(path)])
    assert "0 unsubscribed, 0 already unsubscribed, 0 without a valid token" in again.stdout


def test_unsubscribe_mail_needs_exactly_one_mailbox(runner, tmp_path):
    assert runner.invoke(args=["subscribers", "unsubscribe-mail"]).exit_code == 2
    not_a_maildir = runner.invoke(args=["subscribers", "unsubscribe-mail", "--maildir", str(tmp_path)])
    assert not_a_maildir.exit_code == 1 and "not a maildir" in not_a_maildir.output


def test_an_mbox_locked_by_the_mail_server_is_left_alone_with_a_clear_error(app, runner, tmp_path, add_subscriber):
    reader = add_subscriber("reader@example.org", ["en"])
    path = tmp_path / "unsubscribe.mbox"
    box = mailbox.mbox(str(path), create=True)
    box.add(message("reader@example.org", mailto_subject(app, reader)))
    box.flush()
    box.close()
    (tmp_path / "unsubscribe.mbox.lock").write_text("held by the delivery agent")

    result = runner.invoke(args=["subscribers", "unsubscribe-mail", "--mbox", str(path)])

    assert result.exit_code == 1 and "locked by another program" in result.output
    assert "Traceback" not in result.output and len(mailbox.mbox(str(path))) == 1
    assert statuses() == {"reader@example.org": CONFIRMED}


def test_a_maildir_run_handles_only_new_mail(app, runner, tmp_path, add_subscriber):
    reader = add_subscriber("reader@example.org", ["en"])
    box = mailbox.Maildir(str(tmp_path / "inbox"), create=True)
    seen = mailbox.MaildirMessage(message("reader@example.org", mailto_subject(app, reader)))
    seen.set_subdir("cur")
    box.add(seen)

    result = runner.invoke(args=["subscribers", "unsubscribe-mail", "--maildir", str(tmp_path / "inbox")])

    assert "0 unsubscribed, 0 already unsubscribed, 0 without a valid token" in result.stdout, result.output
    assert statuses() == {"reader@example.org": CONFIRMED}
