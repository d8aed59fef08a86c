"""Migration 0005: case variants of one address become one subscriber, and links already sent keep working."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fixtures.settings import secret
from flask_migrate import upgrade
from sqlalchemy import select, text
from test_migrations import empty_database_url  # noqa: F401  (the fixture)

from newsletter import create_app
from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.models import Consent, Delivery, Subscriber, Suppression
from newsletter.subscribers import subscriptions

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(days: int) -> datetime:
    return T0 + timedelta(days=days)


SUBSCRIBERS = [
    # id, email, status, created, confirmed, queued
    (1, "READER@example.org", "unsubscribed", _at(0), None, _at(1)),
    (2, "Reader@example.org", "confirmed", _at(2), _at(3), _at(2)),
    (3, "reader@example.org", "pending", _at(5), None, _at(6)),
    (4, "Solo@example.org", "confirmed", _at(0), _at(1), None),
    (5, "quiet@example.org", "pending", _at(7), None, _at(7)),
    (6, "quiet@EXAMPLE.org", "pending", _at(8), None, _at(8)),
]
LANGUAGES = [(2, "en", _at(2), _at(3)), (3, "ru", _at(5), None), (3, "en", _at(1), None), (4, "be", _at(0), _at(1))]


def _insert_old_rows(connection) -> None:
    connection.execute(
        text(
            "INSERT INTO subscribers (id, email, status, locale, created_at, confirmed_at, request_mail_queued_at) "
            "VALUES (:id, :email, :status, 'en', :created, :confirmed, :queued)"
        ),
        [
            dict(zip(("id", "email", "status", "created", "confirmed", "queued"), row, strict=True))
            for row in SUBSCRIBERS
        ],
    )
    connection.execute(
        text(
            "INSERT INTO subscriber_languages (subscriber_id, language, requested_at, confirmed_at) "
            "VALUES (:id, :language, :requested, :confirmed)"
        ),
        [dict(zip(("id", "language", "requested", "confirmed"), row, strict=True)) for row in LANGUAGES],
    )
    connection.execute(
        text(
            "INSERT INTO consents (id, subscriber_id, languages, source, consent_text_version, requested_at) "
            "VALUES (:id, :subscriber, 'en', 'api', 'v', :at)"
        ),
        [{"id": number, "subscriber": number, "at": _at(number)} for number in (1, 2, 3)],
    )
    common = {"priority": 0, "attempts": 0, "status": "sent", "at": T0}
    connection.execute(
        text(
            "INSERT INTO deliveries (id, kind, priority, edition_id, subscriber_id, status, attempts, next_attempt_at, "
            "created_at) VALUES (:id, 'digest', :priority, :edition, :subscriber, :status, :attempts, :at, :at)"
        ),
        [
            dict(common, id=1, edition=10, subscriber=2),
            dict(common, id=2, edition=10, subscriber=3),
            dict(common, id=3, edition=11, subscriber=3),
        ],
    )
    connection.execute(
        text("INSERT INTO suppressions (email, reason, created_at) VALUES (:email, 'r', :at)"),
        [{"email": "Bounce@example.org", "at": _at(0)}, {"email": "bounce@example.org", "at": _at(1)}],
    )


def test_case_variants_are_merged_keeping_the_confirmed_one(empty_database_url, tmp_path, caplog):  # noqa: F811
    app = create_app(
        {
            "DATABASE_URL": empty_database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "migration-test-key-" + "x" * 32,
        }
    )
    with app.app_context():
        upgrade(revision="0002")
        old_link_fingerprint = tokens.address_fingerprint(secret(), "Solo@example.org")
        with db.engine.begin() as connection:
            _insert_old_rows(connection)
        with caplog.at_level(logging.INFO):
            upgrade(revision="0005")
        subscribers = {row.email: row for row in db.session.scalars(select(Subscriber))}
        assert sorted(subscribers) == ["quiet@example.org", "reader@example.org", "solo@example.org"]
        reader = subscribers["reader@example.org"]
        assert reader.id == 2 and reader.status == "confirmed"
        assert {row.language: row.confirmed_at is not None for row in reader.languages} == {"en": True, "ru": False}
        assert [row.requested_at for row in reader.languages if row.language == "en"] == [_at(1)]
        assert reader.created_at == _at(0) and reader.request_mail_queued_at == _at(6)
        assert sorted(db.session.scalars(select(Consent.subscriber_id))) == [2, 2, 2]
        deliveries = dict(db.session.execute(select(Delivery.id, Delivery.subscriber_id)).all())
        assert deliveries == {1: 2, 3: 2}
        assert subscribers["quiet@example.org"].id == 5
        assert list(db.session.scalars(select(Suppression.email))) == ["bounce@example.org"]
        solo = subscribers["solo@example.org"]
        old_link = tokens.make_token(secret(), tokens.UNSUBSCRIBE, [solo.id, old_link_fingerprint])
        assert subscriptions.subscriber_for_link(tokens.UNSUBSCRIBE, old_link, secret()).id == solo.id
        db.session.remove()
        db.engine.dispose()
    report = caplog.text
    assert "merged subscribers 1, 3 into subscriber 2" in report and "merged subscribers 6 into subscriber 5" in report
    assert "example.org" not in report
