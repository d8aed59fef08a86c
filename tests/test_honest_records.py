"""Honest records: readers given up after the retry age are one WARNING line per edition with the count,
and the edition says "sent with N failed" in the API, the CLI and the console."""

from __future__ import annotations

import logging

from fixtures.delivery import add_edition, add_subscribers, statuses

from newsletter.delivery import ledger, worker


def _given_up_edition(app, smtp_server, readers: int = 3) -> int:
    app.config.update(RETRY_MAX_AGE_SECONDS=0.3, RETRY_BASE_SECONDS=0.05)
    add_subscribers(readers, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    smtp_server.refuse_after(0, "RCPT", "451 4.2.0 mailbox busy, try later")
    worker.run(once=True, poll_seconds=0.05)
    return edition.id


def test_readers_given_up_after_the_retry_age_are_one_warning_line_per_edition(
    fast_smtp_config, app, smtp_server, caplog
):
    caplog.set_level(logging.INFO)
    edition_id = _given_up_edition(app, smtp_server)
    assert statuses(edition_id) == {"failed": 3}
    settled = [record for record in caplog.records if f"edition {edition_id}: every delivery settled" in record.message]
    assert len(settled) == 1, [record.message for record in settled]
    [line] = settled
    assert line.levelno == logging.WARNING
    assert "marked sent with 3 failed" in line.message and "3 readers given up after the retry age" in line.message


def test_a_sent_edition_with_failures_says_so_in_the_api_cli_and_console(
    fast_smtp_config, app, smtp_server, editor_headers, make_account
):
    from fixtures.console import sign_in

    edition_id = _given_up_edition(app, smtp_server, readers=2)
    client = app.test_client()
    shown = client.get(f"/api/v1/editions/{edition_id}", headers=editor_headers).get_json()
    assert shown["status"] == "sent" and shown["status_summary"] == "sent with 2 failed"

    listed = app.test_cli_runner().invoke(args=["editions", "list"])
    assert f"{edition_id}\t" in listed.output and "sent with 2 failed" in listed.output, listed.output

    console = app.test_client()
    sign_in(console, make_account("Pavel", role="editor"))
    page = console.get(f"/console/editions/{edition_id}").get_data(as_text=True)
    assert "sent with 2 failed" in page or "не доставлено: 2" in page or "не дастаўлена: 2" in page


def test_a_sent_edition_without_failures_just_says_sent(fast_smtp_config, app, smtp_server, editor_headers):
    add_subscribers(2, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    worker.run(once=True, poll_seconds=0.05)
    shown = app.test_client().get(f"/api/v1/editions/{edition.id}", headers=editor_headers).get_json()
    assert shown["status_summary"] == "sent"
