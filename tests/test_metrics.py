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
