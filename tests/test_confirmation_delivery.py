"""The confirmation email through the real worker: a loopback SMTP server that defers, or is down.

No addresses in logs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest
from fixtures.settings import current_settings
from fixtures.smtp import SmtpTestServer
from fixtures.subscribers import confirm_path_in, parse_message
from sqlalchemy import select

from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.delivery import worker
from newsletter.models import Delivery, Subscriber
from newsletter.models.delivery import DeliveryStatus
from newsletter.models.subscribers import CONFIRMED, PENDING

ADDRESS = "reader@example.org"


def run_worker(app, seconds: float = 30) -> None:
    """`worker.run(once=True)` in its own thread and app context, stopped and failed if it outlives `seconds`."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target():
        with app.app_context():
            try:
                worker.run(once=True, stop=stop, poll_seconds=0.05)
            except BaseException as error:  # reported to the test below
                errors.append(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        stop.set()
        thread.join(10)
        pytest.fail(f"worker still running after {seconds} s")
    if errors:
        raise errors[0]
    db.session.expire_all()


def the_delivery() -> Delivery:
    db.session.expire_all()
    return db.session.scalar(select(Delivery))


def the_subscriber() -> Subscriber:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber))


def test_confirmation_survives_a_451_and_is_delivered(smtp_app_config, app, client, smtp_server):
    smtp_server.reply_next("RCPT", "451 4.3.0 try again later")
    assert client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["ru"]}).status_code == 202
    run_worker(app)
    [received] = smtp_server.messages
    assert received.recipients == [ADDRESS]
    message = parse_message(received.data)
    assert message["Subject"] == "Подтвердите подписку на Belarus Weekly" and message.is_multipart()
    delivery = the_delivery()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert the_subscriber().status == PENDING
    assert client.post(confirm_path_in(received.data)).status_code == 200
    assert the_subscriber().status == CONFIRMED


@pytest.fixture
def unstarted_smtp_server(app_config):
    """An SMTP server that is down until the test starts it."""
    server = SmtpTestServer()
    app_config.update(SMTP_URL=server.url, SMTP_TIMEOUT=2, RETRY_BASE_SECONDS=0.05)
    yield server
    with contextlib.suppress(Exception):  # never started
        server.stop()


def test_confirmation_waits_while_the_server_is_down(unstarted_smtp_server, app, client):
    client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["en"]})
    server = unstarted_smtp_server
    starter = threading.Timer(1.5, server.start)
    starter.start()
    try:
        run_worker(app)
    finally:
        starter.join(10)
    delivery = the_delivery()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts >= 2
    assert [message.recipients for message in server.messages] == [[ADDRESS]]


def test_a_failed_attempt_leaves_the_request_pending_and_queued(unstarted_smtp_server, app, client):
    client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["en"]})
    stop = threading.Event()

    def target():
        with app.app_context():
            worker.run(once=True, stop=stop, poll_seconds=0.05)
            db.session.remove()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (the_delivery().attempts or 0) < 1:
        time.sleep(0.05)
    stop.set()
    thread.join(15)
    assert not thread.is_alive()
    delivery = the_delivery()
    assert delivery.attempts >= 1 and delivery.status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
    assert delivery.sent_at is None and the_subscriber().status == PENDING


def test_no_address_in_the_logs_from_subscribe_to_unsubscribe(app, client, caplog, form_token, outbox):
    caplog.set_level(logging.INFO)
    client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["ru"]})
    client.post("/subscribe", data={"csrf_token": form_token(), "email": "second@example.org", "languages": "en"})
    client.post("/api/v1/subscriptions", json={"email": "bad\r\n@example.org", "languages": ["ru"]})
    run_worker(app)
    messages = sorted(outbox.glob("*.eml"))
    assert len(messages) == 2
    for eml in messages:
        assert client.post(confirm_path_in(eml.read_bytes())).status_code == 200
    subscriber = the_subscriber()
    with app.test_request_context():
        links = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email)
    client.post(links.unsubscribe.replace(app.config["BASE_URL"], ""), data={"List-Unsubscribe": "One-Click"})
    assert caplog.records, "expected INFO log lines from the service and the worker"
    for needle in ("reader@", "second@", "@example.org", "bad\r\n"):
        assert needle not in caplog.text
