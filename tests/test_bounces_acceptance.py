"""The acceptance scenario: the sample week to 300 subscribers, then bounces and complaints come back.

5 hard bounces (RFC 3464), 3 soft bounces for one address across its 3 editions, 2 ARF complaints; the same
messages through `bounces serve` (SMTP), `bounces process --maildir` and the SES webhook give the same result.
"""

from __future__ import annotations

import mailbox
from datetime import date

import pytest
from fixtures.bounces import arf, dsn, send_to_bounce_server, ses_notification
from fixtures.delivery import add_edition, add_subscribers

from newsletter.core.extensions import db
from newsletter.delivery import ledger, worker
from newsletter.models import Delivery, Subscriber, SubscriberLanguage, Suppression, utcnow

HARD = [f"en{index}@example.net" for index in range(5)]
COMPLAINING = ["en5@example.net", "en6@example.net"]
SOFT = "reader.everywhere@example.net"


def _send_sample_week(built_week) -> list:
    """300 subscribers (one of them in all three languages), the sample week's three editions, sent."""
    add_subscribers(100, "be", prefix="be")
    add_subscribers(100, "ru", prefix="ru")
    add_subscribers(99, "en", prefix="en")
    everywhere = Subscriber(email=SOFT, status="confirmed", confirmed_at=utcnow())
    everywhere.languages = [SubscriberLanguage(language=code, confirmed_at=utcnow()) for code in ("be", "ru", "en")]
    db.session.add(everywhere)
    db.session.commit()
    for edition in built_week.values():
        ledger.enqueue_edition(edition)
    worker.run(once=True, poll_seconds=0.05)
    return list(built_week.values())


def _sent_to(smtp_server, address: str) -> list[tuple[str, str]]:
    """(VERP envelope sender, Message-ID) of each message the sink accepted for the address."""
    return [
        (message.mail_from, message.parsed()["Message-ID"])
        for message in smtp_server.messages
        if address in message.recipients
    ]


def _reports(smtp_server, as_mail: bool = True, signer=None) -> tuple[list, list]:
    """(first batch, last soft bounce): every report as (VERP, message bytes or a signed SES notification)."""

    def report(kind: str, address: str, verp: str, message_id: str, number: int):
        if not as_mail:
            return ses_notification(signer, kind, verp, address, message_id, status=status[kind], number=number)
        if kind == "complaint":
            return arf(verp, address, message_id=message_id, verp=verp)
        return dsn(verp, address, status[kind], message_id=message_id, tag=f" {number}")

    status = {"hard": "5.1.1", "soft": "4.2.2", "complaint": ""}
    reports = []
    for kind, addresses in (("hard", HARD), ("complaint", COMPLAINING)):
        for address in addresses:
            [(verp, message_id)] = _sent_to(smtp_server, address)
            reports.append((verp, report(kind, address, verp, message_id, 0)))
    soft = [
        (verp, report("soft", SOFT, verp, message_id, number))
        for number, (verp, message_id) in enumerate(_sent_to(smtp_server, SOFT))
    ]
    assert len(soft) == 3
    return reports + soft[:2], soft[2:]


def _by_ses_webhook(client, reports) -> None:
    for _verp, notification in reports:
        response = client.post("/webhooks/bounces/ses", json=notification)
        assert response.json["outcomes"] == ["applied"], response.json


def _by_smtp(app, server, reports) -> None:
    for verp, data in reports:
        send_to_bounce_server(server, verp, data)


def _by_maildir(runner, folder, reports) -> None:
    box = mailbox.Maildir(str(folder), create=True)
    for _verp, data in reports:
        box.add(data)
    result = runner.invoke(args=["bounces", "process", "--maildir", str(folder)])
    assert result.exit_code == 0 and "0 unmatched, 0 unrecognised" in result.output, result.output


def _suppressed() -> dict[str, str]:
    db.session.expire_all()
    return dict(db.session.execute(db.select(Suppression.email, Suppression.cause)).all())


@pytest.mark.parametrize("intake", ["smtp", "maildir", "ses"])
def test_bounces_and_complaints_suppress_and_the_next_edition_skips_them(
    intake, sns_signer, fast_smtp_config, app, client, smtp_server, built_week, runner, tmp_path, request
):
    editions = _send_sample_week(built_week)
    assert len(smtp_server.messages) == 302
    first, last = _reports(smtp_server, as_mail=intake != "ses", signer=sns_signer)
    if intake == "ses":
        deliver = lambda reports: _by_ses_webhook(client, reports)  # noqa: E731
    elif intake == "smtp":
        server = request.getfixturevalue("bounce_server")
        deliver = lambda reports: _by_smtp(app, server, reports)  # noqa: E731
    else:
        deliver = lambda reports: _by_maildir(runner, tmp_path / "Maildir", reports)  # noqa: E731

    deliver(first)
    suppressed = _suppressed()
    assert {address: suppressed.get(address) for address in HARD + COMPLAINING} == {
        **{address: "hard_bounce" for address in HARD},
        **{address: "complaint" for address in COMPLAINING},
    }
    assert SOFT not in suppressed, "two soft bounces are not yet enough"
    deliver(last)
    assert _suppressed()[SOFT] == "soft_bounces"
    assert len(_suppressed()) == 8
    for address in COMPLAINING:
        assert db.session.scalar(db.select(Subscriber.status).filter_by(email=address)) == "unsubscribed"

    counts = {edition.language: ledger.edition_counts(edition.id) for edition in editions}
    assert {language: (c["bounced"], c["complained"]) for language, c in counts.items()} == {
        "be": (1, 0),
        "ru": (1, 0),
        "en": (6, 2),
    }
    result = runner.invoke(args=["editions", "list", "--json"])
    assert '"bounced": 6' in result.output and '"complained": 2' in result.output

    smtp_server.messages.clear()
    following = [add_edition(language, week=date(2022, 1, 17)) for language in ("be", "ru", "en")]
    for edition in following:
        ledger.enqueue_edition(edition)
    worker.run(once=True, poll_seconds=0.05)
    received = {address for message in smtp_server.messages for address in message.recipients}
    assert received.isdisjoint(HARD + COMPLAINING + [SOFT])
    assert len(received) == 300 - 8
    counts = {edition.language: ledger.edition_counts(edition.id) for edition in following}
    assert {language: c["suppressed"] for language, c in counts.items()} == {"be": 1, "ru": 1, "en": 6}
    assert (
        db.session.scalar(
            db.select(db.func.count())
            .select_from(Delivery)
            .where(Delivery.edition_id.in_([e.id for e in following]), Delivery.status == "sent")
        )
        == 300 - 8
    )  # one message per remaining person: the one in three languages is suppressed
