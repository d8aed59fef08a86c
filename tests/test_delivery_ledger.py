"""The ledger: one set-based enqueue per edition, the unique key deciding, counts and editor controls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fixtures.delivery import add_edition, add_subscribers, queue_prebuilt_mail, statuses
from sqlalchemy.exc import IntegrityError

from newsletter.core.extensions import db
from newsletter.delivery import ledger, worker
from newsletter.editions import cancel_edition, pause_edition, resume_edition
from newsletter.models import Delivery, Edition, Subscriber, SubscriberLanguage, Suppression, utcnow
from newsletter.models.lifecycle import EditionConflict


def test_enqueue_takes_confirmed_subscribers_of_the_language_only(app):
    wanted = add_subscribers(3, "ru", prefix="ru")
    add_subscribers(2, "en", prefix="en")
    add_subscribers(2, "ru", prefix="pending", status="pending")
    left = Subscriber(email="left@example.net", status="unsubscribed")
    left.languages.append(SubscriberLanguage(language="ru", confirmed_at=utcnow()))
    asked = Subscriber(email="asked@example.net", status="confirmed", confirmed_at=utcnow())
    asked.languages.append(SubscriberLanguage(language="ru"))
    db.session.add_all([left, asked])
    db.session.commit()
    edition = add_edition("ru")

    assert ledger.enqueue_edition(edition) == 3

    rows = db.session.scalars(db.select(Delivery)).all()
    assert sorted(row.subscriber_id for row in rows) == sorted(wanted)
    assert {row.status for row in rows} == {"queued"}
    edition = db.session.get(Edition, edition.id)
    assert edition.status == "sending" and edition.send_started_at is not None


def test_suppressed_addresses_are_recorded_but_not_queued(app):
    add_subscribers(3, "en")
    db.session.add(Suppression(email="reader1@example.net", reason="550 5.1.1"))
    db.session.commit()
    edition = add_edition("en")

    assert ledger.enqueue_edition(edition) == 2
    assert ledger.edition_counts(edition.id)["suppressed"] == 1


@pytest.mark.parametrize("status", ["sending", "paused", "sent", "cancelled"])
def test_an_edition_is_never_enqueued_twice(app, status):
    add_subscribers(2, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    edition.status = status
    db.session.commit()

    with pytest.raises(EditionConflict):
        ledger.enqueue_edition(edition)
    assert statuses(edition.id).total() == 2


def test_the_unique_key_refuses_a_second_row_for_the_same_subscriber(app):
    [subscriber_id] = add_subscribers(1, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    db.session.add(Delivery(edition_id=edition.id, subscriber_id=subscriber_id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_counts_report_every_state_and_the_next_retry(app):
    add_subscribers(4, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    assert ledger.edition_counts(edition.id)["next_retry_at"] is None
    first, second, third, _fourth = db.session.scalars(db.select(Delivery).order_by(Delivery.id)).all()
    first.status, first.sent_at = "sent", utcnow()
    second.attempts, second.last_reply = 1, "451 4.3.0 later"
    second.next_attempt_at = utcnow() + timedelta(minutes=5)
    third.next_attempt_at = utcnow() - timedelta(minutes=5)
    db.session.commit()

    counts = ledger.edition_counts(edition.id)

    assert {key: counts[key] for key in ("queued", "sending", "sent", "failed", "suppressed", "cancelled")} == {
        "queued": 3,
        "sending": 0,
        "sent": 1,
        "failed": 0,
        "suppressed": 0,
        "cancelled": 0,
    }
    assert counts["total"] == 4
    assert counts["next_retry_at"] == second.next_attempt_at.isoformat()


def test_pause_resume_and_cancel_move_only_from_allowed_states(app):
    add_subscribers(3, "en")
    edition = add_edition("en")
    with pytest.raises(EditionConflict):
        pause_edition(edition)
    with pytest.raises(EditionConflict):
        resume_edition(edition)
    ledger.enqueue_edition(edition)

    assert resume_edition(edition) == "sending"
    assert pause_edition(edition) == "paused"
    assert pause_edition(edition) == "paused"
    assert resume_edition(edition.id) == "sending"
    assert cancel_edition(edition) == "cancelled"
    assert cancel_edition(edition) == "cancelled"
    assert statuses(edition.id) == {"cancelled": 3}
    with pytest.raises(EditionConflict):
        resume_edition(edition)


def test_a_sent_edition_cannot_be_cancelled(app):
    edition = add_edition("en")
    edition.status = "sent"
    db.session.commit()
    with pytest.raises(EditionConflict) as raised:
        cancel_edition(edition)
    assert raised.value.status == "sent"


def test_transactional_mail_is_committed_with_the_callers_transaction(app):
    queue_prebuilt_mail("new@example.net")
    db.session.rollback()
    assert statuses() == {}


def test_recipients_who_left_since_the_enqueue_are_cancelled_not_sent(app, outbox):
    ids = add_subscribers(4, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    unsubscribed, lost_language, erased = (db.session.get(Subscriber, ids[index]) for index in range(3))
    unsubscribed.status = "unsubscribed"
    db.session.delete(lost_language.languages[0])
    db.session.delete(erased)
    db.session.commit()

    worker.run(once=True, poll_seconds=0.05)

    assert statuses(edition.id) == {"sent": 1, "cancelled": 3}
    assert len(list(outbox.glob("*.eml"))) == 1
    assert db.session.get(Edition, edition.id).status == "sent"


def test_an_edition_with_no_audience_settles_as_sent(app):
    edition = add_edition("be")
    assert ledger.enqueue_edition(edition) == 0
    worker.run(once=True, poll_seconds=0.05)
    assert db.session.get(Edition, edition.id).status == "sent"


def test_the_ledger_refuses_a_row_for_a_subscriber_who_does_not_exist(app):
    """The ledger's references are foreign keys again (migration 0008), on both backends."""
    db.session.add(Delivery(kind="confirmation", priority=0, subscriber_id=999_999))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_an_edition_that_has_deliveries_cannot_be_deleted(app):
    add_subscribers(2, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    with pytest.raises(IntegrityError):
        db.session.execute(db.delete(Edition).where(Edition.id == edition.id))
        db.session.commit()
    db.session.rollback()
    assert statuses(edition.id) == {"queued": 2}


def test_deleting_a_subscriber_leaves_no_dangling_reference(app):
    """Even a deletion that skipped `forget_subscribers`: the key sets the reference to NULL."""
    ids = add_subscribers(3, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    db.session.execute(db.delete(SubscriberLanguage).where(SubscriberLanguage.subscriber_id == ids[0]))
    db.session.execute(db.delete(Subscriber).where(Subscriber.id == ids[0]))
    db.session.commit()
    references = sorted(db.session.scalars(db.select(Delivery.subscriber_id)), key=lambda value: value or 0)
    assert references == [None, ids[1], ids[2]]


@pytest.mark.postgres_only
def test_an_edition_is_loaded_into_a_partition_of_its_own_which_retention_drops(app):
    from newsletter.delivery import partitions

    add_subscribers(5, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    low, high = partitions.id_range(edition.id)

    ids = db.session.scalars(db.select(Delivery.id).where(Delivery.edition_id == edition.id)).all()
    assert partitions.edition_partitions() == [partitions.partition_name(edition.id)]
    assert len(ids) == 5 and all(low < delivery_id < high for delivery_id in ids)

    db.session.execute(db.update(Delivery).values(status="sent", sent_at=utcnow()))
    db.session.execute(db.update(Edition).values(status="sent", sent_at=utcnow() - timedelta(days=401)))
    db.session.commit()
    assert ledger.prune(400) == 5
    assert partitions.edition_partitions() == []
    assert ledger.edition_counts(edition.id)["sent"] == 5


@pytest.mark.postgres_only
def test_an_edition_sent_to_nobody_keeps_no_partition_and_can_be_reopened_and_sent(app):
    """Dropping an attached partition would lock the whole ledger; an empty load is never attached."""
    from newsletter.delivery import partitions
    from newsletter.editions import reopen_edition

    edition = add_edition("en")
    assert ledger.enqueue_edition(edition) == 0
    assert partitions.edition_partitions() == []
    cancel_edition(edition)
    reopen_edition(edition)
    add_subscribers(2, "en")
    assert ledger.enqueue_edition(edition) == 2
    assert partitions.edition_partitions() == [partitions.partition_name(edition.id)]


@pytest.mark.postgres_only
def test_retention_waits_for_a_busy_ledger_instead_of_stopping_the_workers(app, monkeypatch):
    """Dropping a partition locks the whole ledger: while a worker's transaction holds it, retention gives up
    after its lock timeout, keeps everything as it was, and drops the partition at the next round."""
    from newsletter.delivery import partitions

    monkeypatch.setattr(partitions, "DROP_LOCK_TIMEOUT", "200ms")
    add_subscribers(3, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    db.session.execute(db.update(Delivery).values(status="sent", sent_at=utcnow()))
    db.session.execute(db.update(Edition).values(status="sent", sent_at=utcnow() - timedelta(days=401)))
    db.session.commit()

    with db.engine.connect() as busy_worker:
        busy_worker.execute(db.update(Delivery).where(Delivery.edition_id == edition.id).values(attempts=2))
        assert ledger.prune(400) == 0
        busy_worker.rollback()
    db.session.expire_all()
    assert partitions.edition_partitions() == [partitions.partition_name(edition.id)]
    assert db.session.get(Edition, edition.id).archived_counts is None

    assert ledger.prune(400) == 3
    assert partitions.edition_partitions() == []
