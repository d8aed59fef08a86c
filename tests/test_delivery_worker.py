"""The worker drains the ledger through the SMTP pool: one accepted message per subscriber, editions settled."""

from __future__ import annotations

import pytest
from fixtures.delivery import add_edition, add_subscribers, queue_prebuilt_mail, recipients, statuses
from fixtures.settings import current_settings, secret

from newsletter.core.extensions import db
from newsletter.delivery import ledger, worker
from newsletter.models import Delivery, Edition


def test_worker_sends_each_subscriber_one_message_and_settles_the_edition(fast_smtp_config, app, smtp_server):
    add_subscribers(30, "en")
    edition = add_edition("en")
    assert ledger.enqueue_edition(edition) == 30

    result = worker.run(once=True, poll_seconds=0.05)

    assert result.sent == 30
    assert set(recipients(smtp_server.messages).values()) == {1}
    assert len(recipients(smtp_server.messages)) == 30
    assert statuses(edition.id) == {"sent": 30}
    edition = db.session.get(Edition, edition.id)
    assert edition.status == "sent" and edition.sent_at is not None
    row = db.session.scalars(db.select(Delivery)).first()
    assert row.attempts == 1 and row.sent_at is not None and row.last_reply.startswith("250")


def test_transactional_mail_goes_before_digests(fast_smtp_config, app, smtp_server):
    app.config["SMTP_CONNECTIONS"] = 1
    add_subscribers(5, "en")
    ledger.enqueue_edition(add_edition("en"))
    queue_prebuilt_mail("newcomer@example.net")
    db.session.commit()

    worker.run(once=True, poll_seconds=0.05)

    assert smtp_server.messages[0].recipients == ["newcomer@example.net"]
    assert len(smtp_server.messages) == 6


def test_envelope_sender_names_the_delivery(fast_smtp_config, app, smtp_server):
    from newsletter.delivery.verp import delivery_id_from_bounce

    add_subscribers(1, "en")
    ledger.enqueue_edition(add_edition("en"))
    worker.run(once=True, poll_seconds=0.05)

    sender = smtp_server.messages[0].mail_from
    assert sender.startswith("bounces+") and sender.endswith("@newsletter.test")
    delivery = db.session.scalars(db.select(Delivery)).one()
    assert delivery_id_from_bounce(sender, secret()) == delivery.id
    assert delivery_id_from_bounce(sender.replace("bounces+", "bounces+9"), secret()) is None


def test_a_non_ascii_local_part_travels_with_smtputf8(fast_smtp_config, app, smtp_server):
    queue_prebuilt_mail("читатель@example.org", subject="Подтвердите", text="Да")
    db.session.commit()

    worker.run(once=True, poll_seconds=0.05)

    [received] = smtp_server.messages
    assert received.recipients == ["читатель@example.org"]
    assert received.parsed()["To"] == "читатель@example.org"


def test_a_forged_bounce_address_with_a_huge_id_is_not_ours(app):
    from newsletter.delivery.verp import delivery_id_from_bounce

    assert delivery_id_from_bounce("bounces+" + "9" * 5000 + "-0123456789@newsletter.test", secret()) is None


def test_once_waits_for_another_workers_lease_without_busy_polling(fast_smtp_config, app, smtp_server, monkeypatch):
    from newsletter.delivery import claims

    add_subscribers(2, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    claims.claim("another-worker", 10, lease_seconds=1.5)
    looks = []
    real_outstanding = claims.outstanding
    monkeypatch.setattr(claims, "outstanding", lambda: looks.append(1) or real_outstanding())

    worker.run(once=True)

    assert statuses(edition.id) == {"sent": 2}
    assert len(recipients(smtp_server.messages)) == 2
    assert len(looks) < 15, f"{len(looks)} polls while waiting 1.5 s"


def test_each_message_built_while_the_relay_reads_the_last_is_its_reader_s(fast_smtp_config, app, smtp_server):
    """With one pipelined connection every message but the first is built ahead, in the wait for the reply
    to the one before: each must still reach its own reader, with that reader's own links."""
    from newsletter.core.tokens import UNSUBSCRIBE, read_token
    from newsletter.delivery.verp import delivery_id_from_bounce

    app.config["SMTP_CONNECTIONS"] = 1
    ids = add_subscribers(25, "en")
    ledger.enqueue_edition(add_edition("en"))

    worker.run(once=True, poll_seconds=0.05)

    assert len(smtp_server.messages) == 25
    subscriber_of = {row.id: row.subscriber_id for row in db.session.scalars(db.select(Delivery))}
    for received in smtp_server.messages:
        parsed = received.parsed()
        assert parsed["To"] == received.recipients[0]
        token = parsed["List-Unsubscribe"].split(",")[0].strip().strip("<>").rsplit("/", 1)[1]
        reader = read_token(secret(), UNSUBSCRIBE, token)[0]
        assert subscriber_of[delivery_id_from_bounce(received.mail_from, secret())] == reader
        assert received.recipients == [f"reader{ids.index(reader)}@example.net"]


def test_a_message_that_cannot_be_built_ahead_is_built_in_its_turn(app):
    """Building ahead never raises: the failure is met again, and dealt with, when the job's turn comes."""
    from newsletter.delivery.claims import Job
    from newsletter.delivery.messages import MessageBuilder
    from newsletter.models import utcnow

    class Broken:
        def message_id(self, subscriber_id):
            return "<id@example.net>"

        def render(self, *args):
            raise RuntimeError("template broken")

    builder = MessageBuilder(signer=None, settings=current_settings())
    builder.templates[7] = Broken()
    job = Job(1, "digest", 7, 3, "reader@example.net", None, 0, utcnow())

    builder.build_ahead(job)
    builder.build_ahead(None)

    with pytest.raises(RuntimeError, match="template broken"):
        builder.message(job)


def test_a_message_built_ahead_goes_only_to_the_job_it_was_built_for(app):
    """A row given back (its edition paused) and claimed again later is a new job: the message built ahead
    for it before, with that moment's Date, token timestamps and address, is not sent for the new one."""
    from newsletter.delivery.claims import Job
    from newsletter.delivery.messages import MessageBuilder
    from newsletter.models import utcnow

    class Numbered:
        built = 0

        def message_id(self, subscriber_id):
            return "<id@example.net>"

        def render(self, *args):
            Numbered.built += 1
            return b"message %d" % Numbered.built

    builder = MessageBuilder(signer=None, settings=current_settings())
    builder.templates[7] = Numbered()
    before_the_pause = Job(1, "digest", 7, 3, "reader@example.net", None, 0, utcnow())
    builder.build_ahead(before_the_pause)
    claimed_again = Job(1, "digest", 7, 3, "reader@example.net", None, 0, utcnow())

    assert builder.message(claimed_again) == b"message 2"
    builder.build_ahead(claimed_again)
    assert builder.message(claimed_again) == b"message 3"
