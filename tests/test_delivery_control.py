"""Editor controls mid-send: pause and resume continue exactly where they stopped; cancel stops the rest."""

from __future__ import annotations

from fixtures.delivery import (
    add_edition,
    add_subscribers,
    assert_each_once,
    emails_of,
    recipients,
    running_worker,
    statuses,
    wait_for,
)

from newsletter.core.extensions import db
from newsletter.delivery import claims, ledger, worker
from newsletter.editions import cancel_edition, pause_edition, resume_edition
from newsletter.models import Edition


def _sending_edition(count: int):
    emails = emails_of(add_subscribers(count, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition, emails


def test_pause_then_resume_sends_everyone_exactly_once(fast_smtp_config, app, smtp_server):
    app.config["SEND_RATE"] = 40
    edition, emails = _sending_edition(30)

    with running_worker(app):
        wait_for(lambda: len(smtp_server.messages) >= 5)
        assert pause_edition(edition.id) == "paused"
        wait_for(lambda: statuses(edition.id).get("sending", 0) == 0)
        held = len(smtp_server.messages)
        assert held < 30
        assert statuses(edition.id) == {"sent": held, "queued": 30 - held}
        assert resume_edition(edition.id) == "sending"
        wait_for(lambda: len(smtp_server.messages) == 30)
        wait_for(lambda: db.session.get(Edition, edition.id, populate_existing=True).status == "sent")

    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 30}


def test_cancel_mid_send_stops_the_rest_and_keeps_what_was_sent(fast_smtp_config, app, smtp_server):
    app.config["SEND_RATE"] = 40
    edition, emails = _sending_edition(30)

    with running_worker(app):
        wait_for(lambda: len(smtp_server.messages) >= 5)
        assert cancel_edition(edition.id) == "cancelled"
        wait_for(lambda: statuses(edition.id).get("sending", 0) == 0 and statuses(edition.id).get("queued", 0) == 0)

    counts = statuses(edition.id)
    assert counts["sent"] == len(smtp_server.messages) < 30
    assert counts["sent"] + counts["cancelled"] == 30
    assert set(recipients(smtp_server.messages).values()) == {1}
    assert db.session.get(Edition, edition.id, populate_existing=True).status == "cancelled"


def test_once_ignores_a_paused_edition(fast_smtp_config, app, smtp_server):
    edition, _emails = _sending_edition(3)
    pause_edition(edition)

    worker.run(once=True, poll_seconds=0.05)

    assert smtp_server.messages == []
    assert statuses(edition.id) == {"queued": 3}


def test_api_pause_and_resume(app, client, editor_headers):
    edition, _emails = _sending_edition(2)

    paused = client.post(f"/api/v1/editions/{edition.id}/pause", headers=editor_headers)
    again = client.post(f"/api/v1/editions/{edition.id}/pause", headers=editor_headers)
    resumed = client.post(f"/api/v1/editions/{edition.id}/resume", headers=editor_headers)

    assert paused.status_code == again.status_code == resumed.status_code == 200
    assert paused.json["status"] == "paused" and resumed.json["status"] == "sending"
    assert resumed.json["counts"]["queued"] == 2


def test_api_controls_need_an_editor_an_edition_and_a_sending_state(app, client, editor_headers):
    draft = add_edition("en")
    assert client.post(f"/api/v1/editions/{draft.id}/pause").status_code == 401
    assert client.post("/api/v1/editions/999/pause", headers=editor_headers).status_code == 404
    conflict = client.post(f"/api/v1/editions/{draft.id}/resume", headers=editor_headers)
    assert conflict.status_code == 409 and "error" in conflict.json
    assert db.session.get(Edition, draft.id, populate_existing=True).status == "draft"


def test_cli_pause_resume_cancel_and_status(app, runner):
    edition, _emails = _sending_edition(2)

    assert "paused" in runner.invoke(args=["sending", "pause", str(edition.id)]).output
    assert "sending" in runner.invoke(args=["sending", "resume", str(edition.id)]).output
    status = runner.invoke(args=["sending", "status", str(edition.id), "--json"])
    assert '"queued": 2' in status.output
    assert "cancelled" in runner.invoke(args=["sending", "cancel", str(edition.id)]).output
    refused = runner.invoke(args=["sending", "resume", str(edition.id)])
    assert refused.exit_code == 1 and "cancelled" in refused.output
    missing = runner.invoke(args=["sending", "pause", "999"])
    assert missing.exit_code == 1 and "No edition 999" in missing.output


def test_a_pause_during_a_long_throttle_wait_holds_the_waiting_message(fast_smtp_config, app, smtp_server):
    app.config.update(SEND_RATE=0.5, SMTP_CONNECTIONS=2)
    edition, _emails = _sending_edition(4)

    with running_worker(app):
        wait_for(lambda: len(smtp_server.messages) >= 1)
        assert pause_edition(edition.id) == "paused"
        wait_for(lambda: statuses(edition.id).get("sending", 0) == 0, seconds=10)

    assert len(smtp_server.messages) == 1
    assert statuses(edition.id) == {"sent": 1, "queued": 3}


def test_rows_of_an_edition_paused_after_the_claim_go_back_to_the_queue(app):
    edition, _emails = _sending_edition(2)
    ids = claims.claim("worker-a", 10, lease_seconds=60)
    pause_edition(edition.id)

    jobs, refused = claims.load_jobs(ids)

    assert jobs == [] and claims.refuse(refused) == 0
    assert statuses(edition.id) == {"queued": 2}
