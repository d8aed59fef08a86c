"""The emails answering a subscription request: queued by the request, rendered by the worker.

The request must do the same work whatever the address's state (its timing must not tell whether
someone is subscribed), so it renders nothing; the worker renders in the subscriber's locale.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from fixtures.settings import current_settings, secret, smtp_utf8
from fixtures.subscribers import html_part, parse_message, queued_messages, snapshot, text_part
from sqlalchemy import event, select

from newsletter.core import mail_templates as rendering
from newsletter.core.extensions import db
from newsletter.delivery import worker
from newsletter.models import Delivery, Subscriber, utcnow
from newsletter.models.delivery import DeliveryKind, DeliveryStatus
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from newsletter.subscribers import confirmation_mail, subscriptions
from newsletter.subscribers import import_export as subscriber_io

ADDRESS = "reader@example.org"
PREFERENCES_LINK = re.compile(r"https?://[^\s<>\"]+/preferences/[^\s<>\"]+")
STATES = ("new", "pending", "confirmed", "unsubscribed")


def deliveries() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).order_by(Delivery.id)))


def drain() -> None:
    """Run the real worker once (file transport: .eml files in the outbox)."""
    worker.run(once=True, poll_seconds=0.05)
    db.session.expire_all()


@pytest.fixture
def address_in_state(add_subscriber):
    """Prepare an address in one of STATES (a pending one outside the resend window); returns the address."""

    def prepare(state: str, address: str = ADDRESS) -> str:
        if state == "confirmed":
            add_subscriber(address, ["en"])
        elif state == "pending":
            person = add_subscriber(address, ["en"], status=PENDING)
            person.request_mail_queued_at = utcnow() - timedelta(hours=1)
            db.session.commit()
        elif state == "unsubscribed":
            add_subscriber(address, [], status=UNSUBSCRIBED)
        return address

    return prepare


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --- the "already subscribed" notice ----------------------------------------------------------------


def test_confirmed_subscriber_asking_again_gets_one_already_subscribed_notice(
    app, client, outbox, subscribe_via_api, add_subscriber
):
    add_subscriber(ADDRESS, ["en", "ru"], locale="ru")
    assert subscribe_via_api(ADDRESS, ["ru"]).status_code == 202
    assert subscribe_via_api(ADDRESS, ["en", "ru"]).status_code == 202
    drain()
    [eml] = outbox.glob("*.eml")
    message = parse_message(eml.read_bytes())
    assert message["To"] == ADDRESS and message["Subject"] == "Вы уже подписаны на Belarus Weekly"
    text = text_part(eml.read_bytes())
    assert "Вы уже подписаны" in text and "по-английски и по-русски" in text and "/confirm/" not in text
    assert "<mj-" not in html_part(eml.read_bytes())
    link = PREFERENCES_LINK.search(text).group(0)
    assert link in html_part(eml.read_bytes())

    page = client.get(_path(link))
    assert page.status_code == 200 and 'value="ru" checked' in page.get_data(as_text=True)
    assert client.post(_path(link), data={"languages": ["ru"]}).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)).confirmed_languages == ["ru"]

    assert subscribe_via_api(ADDRESS, ["ru"]).status_code == 202
    drain()
    assert len(list(outbox.glob("*.eml"))) == 1
    assert [row.status for row in deliveries()] == [DeliveryStatus.SENT]


def test_the_notice_is_allowed_again_after_the_window(app, client, subscribe_via_api, add_subscriber):
    add_subscriber(ADDRESS, ["en"])
    subscribe_via_api(ADDRESS, ["en"])
    subscribe_via_api(ADDRESS, ["en"])
    assert len(deliveries()) == 1
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["CONFIRM_RESEND_SECONDS"] + 1)):
        subscribe_via_api(ADDRESS, ["en"])
    assert [row.kind for row in deliveries()] == [DeliveryKind.ALREADY_SUBSCRIBED] * 2


def test_a_rendered_message_keeps_its_message_id_across_attempts(client, subscribe_via_api, add_subscriber):
    add_subscriber(ADDRESS, ["en"])
    subscribe_via_api(ADDRESS, ["en"])
    subscribe_via_api("new@example.org", ["en"])
    first, second = (queued_messages(), queued_messages())
    assert [parse_message(m)["Message-ID"] for m in first] == [parse_message(m)["Message-ID"] for m in second]
    assert len({parse_message(m)["Message-ID"] for m in first}) == 2


# --- the request renders nothing, and does the same in every state -----------------------------------


def _refuse_to_render(*_args, **_kwargs):
    raise AssertionError("rendered or built a message inside the request")


@pytest.mark.parametrize("state", STATES)
def test_the_request_renders_nothing_in_any_state(
    app, client, outbox, monkeypatch, address_in_state, form_token, state
):
    address = address_in_state(state)
    second = address_in_state(state, "second@example.org")
    token = form_token()
    with monkeypatch.context() as patched:
        patched.setattr(rendering, "render_email", _refuse_to_render)
        patched.setattr(rendering, "mjml_to_html", _refuse_to_render)
        patched.setattr(confirmation_mail, "build_message", _refuse_to_render)
        api = client.post("/api/v1/subscriptions", json={"email": address, "languages": ["en"]})
        form = client.post("/subscribe", data={"csrf_token": token, "email": second, "languages": "en"})
    assert api.status_code == 202 and form.status_code == 303
    rows = deliveries()
    assert len(rows) == 2 and all(row.status == DeliveryStatus.QUEUED and row.payload is None for row in rows)
    drain()
    assert len(list(outbox.glob("*.eml"))) == 2
    assert [row.status for row in deliveries()] == [DeliveryStatus.SENT] * 2


def _shape(row: Delivery) -> tuple:
    return (row.status, row.priority, row.attempts, row.edition_id, row.payload, row.subscriber_id is not None)


def test_every_state_queues_one_row_of_the_same_shape_and_nothing_within_the_window(
    app, client, subscribe_via_api, address_in_state
):
    addresses = {state: address_in_state(state, f"{state}@example.org") for state in STATES}
    shapes, kinds = set(), {}
    for state, address in addresses.items():
        before = {row.id for row in deliveries()}
        assert subscribe_via_api(address, ["en"]).status_code == 202
        [row] = [row for row in deliveries() if row.id not in before]
        shapes.add(_shape(row))
        kinds[state] = row.kind
    assert len(shapes) == 1
    assert kinds == {
        "new": "confirmation",
        "pending": "confirmation",
        "confirmed": "already_subscribed",
        "unsubscribed": "confirmation",
    }
    stamped = db.session.scalars(select(Subscriber.request_mail_queued_at)).all()
    assert len(stamped) == 4 and all(stamped)

    before = snapshot()
    for address in addresses.values():
        assert subscribe_via_api(address, ["en"]).status_code == 202
    assert snapshot() == before


@pytest.fixture
def sql_log(app):
    """The SQL statements the app runs, as a list the test may clear."""
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(db.engine, "before_cursor_execute", record)
    yield statements
    event.remove(db.engine, "before_cursor_execute", record)


def test_every_state_runs_about_the_same_statements(app, client, subscribe_via_api, address_in_state, sql_log):
    """A first request: two lookups (the address, its mailbox's window), a few writes and one delivery row in
    every state; later ones only look up."""
    addresses = {state: address_in_state(state, f"{state}@example.org") for state in STATES}
    first, again = {}, {}
    for state, address in addresses.items():
        sql_log.clear()
        subscribe_via_api(address, ["en"])
        first[state] = list(sql_log)
    for state, address in addresses.items():
        sql_log.clear()
        subscribe_via_api(address, ["en"])
        again[state] = list(sql_log)
    for state, statements in first.items():
        assert 6 <= len(statements) <= 8, (state, statements)
        assert statements.count("INSERT INTO DELIVERIES") == 1, (state, statements)
    assert max(map(len, first.values())) - min(map(len, first.values())) <= 2, first
    assert len({tuple(statements) for statements in again.values()}) == 1, again
    assert all(statement.startswith("SELECT") for statement in again["confirmed"])


# --- rows whose references are gone ------------------------------------------------------------------


def test_a_confirmation_whose_consent_was_purged_is_cancelled_not_sent(
    app, client, outbox, subscribe_via_api, add_subscriber
):
    add_subscriber(ADDRESS, ["en"])
    subscribe_via_api(ADDRESS, ["en", "be"])
    subscribe_via_api("stale@example.org", ["en"])
    with time_machine.travel(utcnow() + timedelta(days=8)):
        result = subscriptions.purge_pending(current_settings().privacy.confirm_max_age)
    assert result.subscribers == 1 and result.consents == 2
    kept, stale = deliveries()
    assert kept.consent_id is None and kept.subscriber_id is not None
    assert stale.consent_id is None and stale.subscriber_id is None

    drain()

    assert list(outbox.glob("*.eml")) == []
    kept, stale = deliveries()
    assert kept.status == DeliveryStatus.CANCELLED and "consent record no longer exists" in kept.last_reply
    assert stale.status == DeliveryStatus.CANCELLED and "erased" in stale.last_reply


def test_mail_queued_for_an_erased_subscriber_is_cancelled_and_keeps_no_address(
    app, client, outbox, subscribe_via_api, add_subscriber
):
    add_subscriber("confirmed@example.org", ["en"])
    subscribe_via_api("confirmed@example.org", ["en"])
    subscribe_via_api(ADDRESS, ["en"])
    for address in ("confirmed@example.org", ADDRESS):
        subscriber_io.erase_subscriber(subscriber_io.find_subscriber(address, smtp_utf8=smtp_utf8()), secret())

    drain()

    assert list(outbox.glob("*.eml")) == []
    rows = deliveries()
    assert [row.status for row in rows] == [DeliveryStatus.CANCELLED] * 2
    for row in rows:
        assert row.subscriber_id is None and row.consent_id is None and row.payload is None
        assert "@" not in (row.last_reply or "")


def test_a_notice_for_someone_who_left_before_it_went_out_is_cancelled(
    app, client, outbox, subscribe_via_api, add_subscriber
):
    person = add_subscriber(ADDRESS, ["en"])
    subscribe_via_api(ADDRESS, ["en"])
    subscriptions.unsubscribe(db.session.get(Subscriber, person.id))
    drain()
    assert list(outbox.glob("*.eml")) == []
    [row] = deliveries()
    assert row.status == DeliveryStatus.CANCELLED and "no longer subscribed" in row.last_reply


def test_a_rendering_error_cancels_the_row_and_the_worker_carries_on(
    app, client, outbox, monkeypatch, subscribe_via_api
):
    subscribe_via_api(ADDRESS, ["en"])

    def broken(*_args, **_kwargs):
        raise rendering.RenderError("template bug")

    monkeypatch.setattr(rendering, "render_email", broken)
    result = worker.run(once=True, poll_seconds=0.05)
    monkeypatch.undo()
    subscribe_via_api("second@example.org", ["en"])
    drain()

    first, second = deliveries()
    assert first.status == DeliveryStatus.CANCELLED and "could not be rendered (RenderError)" in first.last_reply
    assert result.cancelled == 1
    assert second.status == DeliveryStatus.SENT and len(list(outbox.glob("*.eml"))) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber).where(Subscriber.email == ADDRESS)).status == PENDING
    assert db.session.scalar(select(Subscriber).where(Subscriber.email == "second@example.org")).status != CONFIRMED
