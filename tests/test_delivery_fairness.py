"""Fair queues and a ledger that stays small: a flood of sign-ups cannot starve the digest; old rows go."""

from __future__ import annotations

from datetime import date, timedelta

from fixtures.delivery import add_edition, add_subscribers, queue_prebuilt_mail, statuses
from sqlalchemy import select, update

from newsletter.core.extensions import db
from newsletter.delivery import claims, ledger, worker
from newsletter.models import Delivery, Edition, utcnow
from newsletter.models.delivery import DeliveryKind


def test_a_flood_of_confirmations_during_a_send_cannot_starve_the_digest(fast_smtp_config, app, smtp_server):
    """Measured before: with SEND_RATE=50 a flood kept the digest at 0 of 701 sent while 1,151 confirmations went."""
    app.config.update(SEND_RATE=100, WORKER_BATCH_SIZE=20)
    add_subscribers(40, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    for index in range(160):
        queue_prebuilt_mail(f"flood{index}@example.org")
    db.session.commit()

    worker.run(once=True, poll_seconds=0.05)

    assert statuses(edition.id) == {"sent": 40}
    first_80 = db.session.scalars(
        select(Delivery.kind).where(Delivery.sent_at.is_not(None)).order_by(Delivery.sent_at).limit(80)
    ).all()
    digests = sum(kind == DeliveryKind.DIGEST for kind in first_80)
    assert digests >= 30, f"only {digests} of the first 80 messages were digests (guaranteed: half)"


def test_a_claim_takes_half_of_each_class_and_interleaves_them(app):
    add_subscribers(10, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    for index in range(10):
        queue_prebuilt_mail(f"t{index}@example.org")
    db.session.commit()

    ids = claims.claim("w", 6, lease_seconds=60)

    kinds = dict(db.session.execute(select(Delivery.id, Delivery.kind).where(Delivery.id.in_(ids))).all())
    assert [kinds[delivery_id] == DeliveryKind.DIGEST for delivery_id in ids] == [False, True] * 3


def test_a_batch_of_one_serves_both_classes_in_turn(app):
    """Measured before: with WORKER_BATCH_SIZE=1 every claim went to a waiting confirmation, so a steady
    flow of sign-ups held the digest back entirely."""
    add_subscribers(4, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    for index in range(4):
        queue_prebuilt_mail(f"t{index}@example.org")
    db.session.commit()

    claimed = [claims.claim("w", 1, lease_seconds=60, turn=turn) for turn in range(1, 5)]

    kinds = dict(db.session.execute(select(Delivery.id, Delivery.kind)).all())
    assert sorted(kinds[ids[0]] == DeliveryKind.DIGEST for ids in claimed) == [False, False, True, True]


def test_a_claim_fills_the_batch_from_the_other_class_when_one_is_empty(app):
    for index in range(10):
        queue_prebuilt_mail(f"t{index}@example.org")
    db.session.commit()
    assert len(claims.claim("w", 8, lease_seconds=60)) == 8


def test_retention_removes_old_rows_and_keeps_the_counts(app):
    add_subscribers(5, "en")
    old, recent = add_edition("en"), add_edition("en", week=date(2022, 1, 17))
    for edition in (old, recent):
        ledger.enqueue_edition(edition)
    db.session.execute(update(Delivery).values(status="sent"))
    db.session.execute(update(Edition).values(status="sent", sent_at=utcnow() - timedelta(days=10)))
    db.session.execute(update(Edition).where(Edition.id == old.id).values(sent_at=utcnow() - timedelta(days=500)))
    db.session.commit()
    counts_before = ledger.edition_counts(old.id)

    removed = ledger.prune(400)

    assert removed == 5
    assert statuses(old.id) == {} and statuses(recent.id) == {"sent": 5}
    assert ledger.edition_counts(old.id) == counts_before and counts_before["sent"] == 5
    assert ledger.prune(400) == 0
