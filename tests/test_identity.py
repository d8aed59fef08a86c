"""One identity per address (case-insensitive), and unsubscribes that stay unsubscribed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from fixtures.settings import current_settings, smtp_utf8
from fixtures.subscribers import queued_messages
from sqlalchemy import select

from newsletter.core.addresses import normalise_address
from newsletter.core.extensions import db
from newsletter.models import Consent, Subscriber, Suppression, utcnow
from newsletter.models.subscribers import UNSUBSCRIBED
from newsletter.subscribers import subscriptions
from newsletter.subscribers.import_export import find_subscriber

VARIANTS = [
    "".join(letter.upper() if (number >> position) & 1 else letter for position, letter in enumerate("target"))
    + "@Example.ORG"
    for number in range(20)
]


def test_twenty_case_variants_make_one_subscriber_and_one_confirmation(client):
    assert len(set(VARIANTS)) == 20
    for number, variant in enumerate(VARIANTS):
        response = client.post(
            "/api/v1/subscriptions",
            json={"email": variant, "languages": ["en"]},
            environ_base={"REMOTE_ADDR": f"192.0.2.{number + 1}"},
        )
        assert response.status_code == 202
    assert list(db.session.scalars(select(Subscriber.email))) == ["target@example.org"]
    assert len(queued_messages()) == 1


@pytest.mark.parametrize("raw", ["TARGet@example.org", " target@EXAMPLE.org ", "tarGET@Example.Org"])
def test_lookup_and_erasure_find_the_one_identity(add_subscriber, raw):
    add_subscriber("target@example.org", ["en"])
    assert find_subscriber(raw, smtp_utf8=smtp_utf8()).email == "target@example.org"
    assert normalise_address(raw, smtp_utf8=smtp_utf8()) == "target@example.org"


def test_import_matches_case_variants_of_a_known_address(runner, tmp_path, add_subscriber):
    add_subscriber("known@example.org", ["en"])
    path = tmp_path / "list.csv"
    path.write_text("email,languages\nKNOWN@example.org,en\nKnown@Example.org,be\n")
    result = runner.invoke(args=["subscribers", "import", str(path)])
    assert "0 added, 1 updated, 1 unchanged" in result.stdout
    assert list(db.session.scalars(select(Subscriber.email))) == ["known@example.org"]


def _stranger_requests_then_the_window_passes(app, client):
    client.post("/api/v1/subscriptions", json={"email": "LEFT@example.org", "languages": ["ru"]})
    later = utcnow() + timedelta(days=int(app.config["CONFIRM_MAX_AGE_DAYS"]) + 1)
    return time_machine.travel(later)


def test_a_strangers_request_leaves_an_unsubscribe_standing(app, client, add_subscriber):
    add_subscriber("left@example.org", [], status=UNSUBSCRIBED)
    with _stranger_requests_then_the_window_passes(app, client):
        subscriptions.purge_pending(current_settings().privacy.confirm_max_age)
    db.session.expire_all()
    row = db.session.scalar(select(Subscriber).where(Subscriber.email == "left@example.org"))
    assert row is not None and row.status == UNSUBSCRIBED
    assert row.pending_languages == []


def test_import_after_a_purge_does_not_resubscribe_an_unsubscribed_address(
    app, client, runner, tmp_path, add_subscriber
):
    add_subscriber("left@example.org", [], status=UNSUBSCRIBED)
    path = tmp_path / "old-list.csv"
    path.write_text("email,languages\nLeft@example.org,en\n")
    with _stranger_requests_then_the_window_passes(app, client):
        subscriptions.purge_pending(current_settings().privacy.confirm_max_age)
        result = runner.invoke(args=["subscribers", "import", str(path)])
    assert "0 added, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert "line 2: skipped: this address unsubscribed; it is not subscribed again" in result.stderr
    assert db.session.scalar(select(Subscriber.status)) == UNSUBSCRIBED


def test_import_skips_a_suppressed_address_with_a_reason(runner, tmp_path):
    db.session.add(Suppression(email="bounced@example.org", reason="550 no such user", created_at=utcnow()))
    db.session.commit()
    path = tmp_path / "list.csv"
    path.write_text("email,languages\nBounced@Example.org,en\nfresh@example.org,en\n")
    result = runner.invoke(args=["subscribers", "import", str(path)])
    assert "1 added, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert "line 2: skipped: this address is on the suppression list" in result.stderr
    assert list(db.session.scalars(select(Subscriber.email))) == ["fresh@example.org"]


def test_the_owner_can_still_come_back_by_clicking(app, client, add_subscriber):
    from fixtures.subscribers import confirm_path_in

    add_subscriber("left@example.org", [], status=UNSUBSCRIBED)
    client.post("/api/v1/subscriptions", json={"email": "left@example.org", "languages": ["ru"]})
    [message] = queued_messages()
    assert client.post(confirm_path_in(message)).status_code == 200
    db.session.expire_all()
    row = db.session.scalar(select(Subscriber))
    assert row.status == "confirmed" and row.confirmed_languages == ["ru"]
    assert db.session.scalar(select(Consent.confirmed_at)) is not None
