"""The suppression list: CLI and API, entries with cause and delivery, erased people kept only as a keyed hash."""

from __future__ import annotations

import json

from fixtures.delivery import add_edition, add_subscribers
from fixtures.settings import smtp_utf8

from newsletter.core.extensions import db
from newsletter.delivery import ledger
from newsletter.models import Subscriber, SubscriberLanguage, Suppression, utcnow
from newsletter.subscribers import suppression


def test_cli_add_list_remove(runner, app):
    assert (
        runner.invoke(args=["suppression", "add", "Someone@Example.NET", "--reason", "asked by phone"]).output
        == "added\n"
    )
    assert runner.invoke(args=["suppression", "add", "Someone@example.net"]).output == "already suppressed\n"
    listed = json.loads(runner.invoke(args=["suppression", "list", "--json"]).output)
    assert [(row["email"], row["cause"], row["reason"]) for row in listed] == [
        ("someone@example.net", "manual", "asked by phone")
    ]
    assert "someone@example.net\tmanual" in runner.invoke(args=["suppression", "list"]).output
    assert runner.invoke(args=["suppression", "remove", "Someone@example.net"]).output == "removed\n"
    assert suppression.entries() == []


def test_cli_rejects_bad_addresses_and_unknown_removals(runner, app):
    bad = runner.invoke(args=["suppression", "add", "not an address"])
    assert bad.exit_code == 1 and "not a valid email address" in bad.output
    missing = runner.invoke(args=["suppression", "remove", "nobody@example.net"])
    assert missing.exit_code == 1 and "not on the suppression list" in missing.output


def test_api_lists_adds_and_removes_behind_an_admin_token(client, admin_headers):
    assert client.get("/api/v1/suppressions").status_code == 401
    added = client.post("/api/v1/suppressions", json={"email": "a@example.net", "reason": "r"}, headers=admin_headers)
    assert added.status_code == 201
    again = client.post("/api/v1/suppressions", json={"email": "a@example.net"}, headers=admin_headers)
    assert again.status_code == 200 and again.json == {"added": False}
    listed = client.get("/api/v1/suppressions", headers=admin_headers).json["suppressions"]
    assert [row["email"] for row in listed] == ["a@example.net"]
    bad = client.post("/api/v1/suppressions", json={"email": "nope"}, headers=admin_headers)
    assert bad.status_code == 422 and "email" in bad.json["error"]["fields"]
    assert (
        client.post("/api/v1/suppressions/remove", json={"email": "a@example.net"}, headers=admin_headers).status_code
        == 204
    )
    gone = client.post("/api/v1/suppressions/remove", json={"email": "a@example.net"}, headers=admin_headers)
    assert gone.status_code == 404


def test_erasure_keeps_only_a_keyed_hash_which_still_recognises_the_address(
    client, admin_headers, app, subscribe_via_api
):
    [subscriber_id] = add_subscribers(1)
    suppression.add("reader0@example.net", "complained", app.config["SECRET_KEY"], smtp_utf8=smtp_utf8())
    assert client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=admin_headers).status_code == 204
    [entry] = db.session.scalars(db.select(Suppression)).all()
    assert entry.email is None and entry.email_hash == suppression.address_hash(
        "reader0@example.net", app.config["SECRET_KEY"]
    )
    assert "reader0" not in json.dumps(suppression.entry_json(entry))
    assert suppression.is_suppressed("reader0@example.net", app.config["SECRET_KEY"], smtp_utf8=smtp_utf8())

    assert subscribe_via_api("reader0@example.net").status_code == 202  # the same address subscribes anew
    assert db.session.scalar(db.select(Suppression.email)) == "reader0@example.net"
    db.session.execute(
        db.update(Subscriber)
        .where(Subscriber.email == "reader0@example.net")
        .values(status="confirmed", confirmed_at=utcnow())
    )
    db.session.execute(db.update(SubscriberLanguage).values(confirmed_at=utcnow()))
    db.session.commit()
    edition = add_edition()
    ledger.enqueue_edition(edition)
    assert ledger.edition_counts(edition.id)["suppressed"] == 1
