"""`GET /metrics`: Prometheus text from the database, behind NEWSLETTER_METRICS_TOKEN."""

from __future__ import annotations

import time

import pytest
from fixtures.delivery import add_edition, add_subscribers, running_worker
from fixtures.smtp import slow
from prometheus_client.parser import text_string_to_metric_families

from newsletter.delivery import ledger

TOKEN = {"Authorization": "Bearer metrics-secret"}


@pytest.fixture
def metrics_token(app_config):
    app_config["METRICS_TOKEN"] = "metrics-secret"


def _samples(client) -> dict:
    response = client.get("/metrics", headers=TOKEN)
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _waiting(samples: dict) -> int:
    return int(
        sum(
            value
            for (name, labels), value in samples.items()
            if name == "newsletter_deliveries" and dict(labels)["state"] in ("queued", "sending")
        )
    )


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(client, app_config):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(metrics_token, client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=TOKEN).status_code == 200


def test_the_queue_falls_during_a_send(metrics_token, fast_smtp_config, app, client, smtp_server):
    add_subscribers(40)
    edition = add_edition()
    ledger.enqueue_edition(edition)
    assert _waiting(_samples(client)) == 40
    smtp_server.reply_next("DATA", *[slow(0.05)] * 40)
    seen = []
    with running_worker(app):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not seen or seen[-1] > 0):
            seen.append(_waiting(_samples(client)))
            time.sleep(0.02)
    assert seen[-1] == 0
    assert any(0 < value < 40 for value in seen), seen
    assert seen == sorted(seen, reverse=True), seen
    samples = _samples(client)
    assert samples[("newsletter_delivery_outcomes", (("outcome", "sent"), ("reply_class", "2xx")))] == 40
    assert any(name == "newsletter_heartbeat_timestamp_seconds" for name, _ in samples)


def test_bounces_scheduler_and_editions_are_exposed(metrics_token, app, client, one_sent, bounce_server):
    from fixtures.bounces import dsn, send_to_bounce_server

    _delivery, verp, _message_id, address = one_sent
    send_to_bounce_server(bounce_server, verp, dsn(verp, address))
    samples = _samples(client)
    assert samples[("newsletter_bounce_reports", (("kind", "hard"),))] == 1
    assert samples[("newsletter_suppressed_addresses", ())] == 1


def test_the_last_scheduler_run_and_its_outcome_per_language(metrics_token, app, client):
    from datetime import date

    from newsletter.core.extensions import db
    from newsletter.models import utcnow
    from newsletter.models.content import SchedulerRun

    db.session.add(
        SchedulerRun(
            due_at=utcnow(),
            week_start=date(2022, 1, 10),
            finished_at=utcnow(),
            outcome="be: sending to 3; ru: already sent by another run; en: draft",
        )
    )
    db.session.commit()
    samples = _samples(client)
    assert samples[("newsletter_scheduler_last_run_finished", ())] == 1
    assert samples[("newsletter_scheduler_last_run_outcome", (("language", "be"), ("outcome", "sending")))] == 1
    assert samples[("newsletter_scheduler_last_run_outcome", (("language", "en"), ("outcome", "draft")))] == 1


def test_metrics_answer_503_in_text_when_the_database_is_down(tmp_path):
    from newsletter import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key-of-at-least-32-bytes",
            "BASE_URL": "http://newsletter.test",
            "MAIL_FROM": "Belarus Weekly <newsletter@newsletter.test>",
            "METRICS_TOKEN": "metrics-secret",
        }
    )
    response = app.test_client().get("/metrics", headers=TOKEN)
    assert response.status_code == 503 and response.content_type.startswith("text/plain")
    assert "database unavailable" in response.get_data(as_text=True)


def test_heartbeats_are_keyed_by_role_and_host_so_restarts_add_no_series(metrics_token, app, client):
    from newsletter.operations import heartbeats

    for pid in (101, 102, 103):  # three restarts of the worker on one host
        heartbeats.beat("worker", f"worker:host-a:{pid}", 30)
    heartbeats.beat("worker", "worker:host-b:7", 30)
    series = [key for key in _samples(client) if key[0] == "newsletter_heartbeat_timestamp_seconds"]
    assert sorted(dict(labels)["host"] for _name, labels in series) == ["host-a", "host-b"]
