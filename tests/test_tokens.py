"""Signed links: one purpose each, confirm links once and for a limited time, never acting on someone else."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from fixtures.settings import current_settings, secret
from fixtures.subscribers import confirm_path_in, queued_messages, snapshot
from sqlalchemy import select

from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.models import Subscriber, utcnow
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED


@pytest.fixture
def confirm_path(client, subscribe_via_api) -> str:
    subscribe_via_api("reader@example.org", ["ru"])
    return confirm_path_in(queued_messages()[0])


def status_of(address: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber.status).where(Subscriber.email == address))


def test_round_trip_and_purpose_separation(app):
    with app.test_request_context():
        token = tokens.make_token(secret(), tokens.UNSUBSCRIBE, [1, "abc"])
        assert tokens.read_token(secret(), tokens.UNSUBSCRIBE, token) == [1, "abc"]
        for other in (tokens.CONFIRM, tokens.PREFERENCES):
            with pytest.raises(tokens.TokenInvalid):
                tokens.read_token(secret(), other, token)


def test_confirm_link_works_once(client, confirm_path):
    assert client.post(confirm_path).status_code == 200
    assert status_of("reader@example.org") == CONFIRMED
    before = snapshot()
    again = client.post(confirm_path)
    assert again.status_code == 200 and "Вы уже подписаны" in again.get_data(as_text=True)
    assert client.get(confirm_path).status_code == 200
    assert snapshot() == before


def test_confirm_link_expires_after_the_configured_days(app, client, confirm_path):
    with time_machine.travel(utcnow() + timedelta(days=app.config["CONFIRM_MAX_AGE_DAYS"], minutes=1)):
        for method in (client.get, client.post):
            response = method(confirm_path)
            assert response.status_code == 410
            assert "Срок действия ссылки истёк" in response.get_data(as_text=True)
    assert status_of("reader@example.org") == PENDING


def test_confirm_window_is_configurable(app, client, confirm_path):
    app.config["CONFIRM_MAX_AGE_DAYS"] = 1
    with time_machine.travel(utcnow() + timedelta(days=2)):
        assert client.post(confirm_path).status_code == 410


def _tamper_signature(path: str) -> str:
    """Change one signature character that carries full bits (the last base64 character has spare bits)."""
    position = len(path) - 3
    return path[:position] + ("A" if path[position] != "A" else "B") + path[position + 1 :]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda path: path.split("?")[0].replace("/confirm/", "/confirm/x"), id="tampered-start"),
        pytest.param(lambda path: path.split("?")[0][:-6], id="truncated"),
        pytest.param(lambda path: _tamper_signature(path.split("?")[0]), id="tampered-signature"),
        pytest.param(lambda path: "/confirm/" + "A" * 40, id="garbage"),
        pytest.param(lambda path: "/confirm/%00%0d%0a", id="control-characters"),
    ],
)
def test_bad_confirm_links_get_a_friendly_400(client, confirm_path, mangle):
    before = snapshot()
    for method in (client.get, client.post):
        response = method(mangle(confirm_path), headers={"Accept-Language": "be"})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "Гэтая спасылка няправільная" in page and 'href="/subscribe?lang=be"' in page
    assert snapshot() == before


def test_cross_purpose_tokens_are_refused(app, client, add_subscriber, confirm_path):
    subscriber = add_subscriber("other@example.org", ["en"])
    with app.test_request_context():
        links = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email)
    confirm_token = confirm_path.split("/confirm/")[1].split("?")[0]
    unsubscribe_token = links.unsubscribe.rsplit("/", 1)[1]
    preferences_token = links.preferences.rsplit("/", 1)[1]
    before = snapshot()
    assert client.post(f"/confirm/{unsubscribe_token}").status_code == 400
    assert client.post(f"/confirm/{preferences_token}").status_code == 400
    assert client.post(f"/unsubscribe/{confirm_token}").status_code == 400
    assert client.post(f"/unsubscribe/{preferences_token}").status_code == 400
    assert client.post(f"/preferences/{unsubscribe_token}", data={"action": "unsubscribe"}).status_code == 400
    assert snapshot() == before


def test_a_link_never_acts_on_another_subscriber(app, client, add_subscriber):
    first = add_subscriber("first@example.org", ["en"])
    second = add_subscriber("second@example.org", ["en"])
    with app.test_request_context():
        forged = tokens.make_token(
            secret(), tokens.UNSUBSCRIBE, [second.id, tokens.address_fingerprint(secret(), first.email)]
        )
        odd_payload = tokens.make_token(secret(), tokens.UNSUBSCRIBE, {"id": second.id})
    assert client.post(f"/unsubscribe/{forged}", data={"List-Unsubscribe": "One-Click"}).status_code == 410
    assert client.post(f"/unsubscribe/{odd_payload}").status_code == 400
    assert status_of("second@example.org") == CONFIRMED and status_of("first@example.org") == CONFIRMED


def test_links_of_an_erased_subscriber_are_gone(app, client, add_subscriber):
    subscriber = add_subscriber("gone@example.org", ["en"])
    with app.test_request_context():
        links = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email)
    db.session.delete(subscriber)
    db.session.commit()
    assert client.get(links.unsubscribe.replace("http://newsletter.test", "")).status_code == 410
    assert client.get(links.preferences.replace("http://newsletter.test", "")).status_code == 410


def test_old_confirm_link_does_not_resubscribe_after_unsubscribing(app, client, confirm_path):
    subscriber = db.session.scalar(select(Subscriber))
    with app.test_request_context():
        links = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email)
    with time_machine.travel(utcnow() + timedelta(minutes=1)):
        client.post(links.unsubscribe.replace("http://newsletter.test", ""))
    assert client.post(confirm_path).status_code == 410
    assert status_of("reader@example.org") == UNSUBSCRIBED


def test_address_fingerprint_is_keyed_with_the_secret_key(app):
    address = "reader@example.org"
    with app.app_context():
        fingerprint = tokens.address_fingerprint(secret(), address)
        assert len(fingerprint) == 16
        assert fingerprint != hashlib.sha256(address.encode()).hexdigest()[: len(fingerprint)]
        app.config["SECRET_KEY"], original = "another secret of at least thirty-two bytes", app.config["SECRET_KEY"]
        try:
            assert tokens.address_fingerprint(secret(), address) != fingerprint
        finally:
            app.config["SECRET_KEY"] = original
        assert tokens.address_fingerprint(secret(), address) == fingerprint
