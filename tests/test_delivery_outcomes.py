"""Outcomes are recorded exactly once: accepted mail is never queued again, leases guard every write."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fixtures.delivery import (
    add_edition,
    add_subscribers,
    assert_each_once,
    emails_of,
    running_worker,
    statuses,
    wait_for,
)
from fixtures.smtp import closing
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from newsletter.core.extensions import db
from newsletter.delivery import claims, ledger, outcomes, recorder, worker
from newsletter.editions import control
from newsletter.models import Delivery, Edition
from newsletter.models.content import EditionStatus


def _send(count: int):
    emails = emails_of(add_subscribers(count, "en"))
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    return edition, emails


def _attempts() -> list[int]:
    rows = db.session.scalars(db.select(Delivery.attempts)).all()
    db.session.commit()
    return sorted(rows)


def test_an_accepted_message_is_not_sent_again_when_recording_it_fails_once(
    fast_smtp_config, app, smtp_server, monkeypatch
):
    edition, emails = _send(5)
    real_write, failures = recorder.OutcomeRecorder._write, []

    def flaky_write(self, batch):
        if not failures:
            failures.append(len(batch))
            raise OperationalError("UPDATE deliveries", {}, Exception("database is locked"))
        return real_write(self, batch)

    monkeypatch.setattr(recorder.OutcomeRecorder, "_write", flaky_write)

    progress = worker.run(once=True, poll_seconds=0.05)

    assert failures
    assert len(smtp_server.messages) == 5 and progress.sent == 5
    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 5}


def test_outcomes_are_kept_through_an_outage_longer_than_the_lease_and_nothing_is_sent_twice(
    fast_smtp_config, app, smtp_server, monkeypatch
):
    """The critical defect: marks that failed on a dead connection were dropped, the rows requeued when their
    lease ran out, and sent again without end. Now they wait in memory, the lease is kept, and senders pause."""
    app.config.update(LEASE_SECONDS=1, SMTP_CONNECTIONS=1)
    edition, emails = _send(3)
    real_write, outage_until = recorder.OutcomeRecorder._write, []

    def broken_for_two_seconds(self, batch):
        if not outage_until:
            outage_until.append(time.monotonic() + 2)
        if time.monotonic() < outage_until[0]:
            raise OperationalError("UPDATE deliveries", {}, Exception("server closed the connection unexpectedly"))
        return real_write(self, batch)

    monkeypatch.setattr(recorder.OutcomeRecorder, "_write", broken_for_two_seconds)

    progress = worker.run(once=True, poll_seconds=0.05)

    assert len(smtp_server.messages) == 3, "an accepted message is never sent again"
    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 3} and progress.sent == 3


def test_a_wrong_password_pauses_the_edition_until_it_is_fixed_and_resumed(app_config, smtp_auth_server, app, caplog):
    """535 when the session opens: nobody fails, nothing spins; the circuit breaker pauses the edition with the
    reason at once, and after the fix a resume sends each reader one copy."""
    port = smtp_auth_server.port
    app.config.update(
        SMTP_URL=f"smtp://mailer:wrong@127.0.0.1:{port}",
        SMTP_TIMEOUT=2,
        RETRY_BASE_SECONDS=0.05,
        THROTTLE_BACKOFF_SECONDS=0.1,
        SMTP_CONNECTIONS=2,
        LEASE_SECONDS=5,
    )
    edition, emails = _send(6)

    with running_worker(app, once=True) as outcome:
        wait_for(lambda: "progress" in outcome or "error" in outcome, seconds=20)
    assert "error" not in outcome
    db.session.expire_all()
    assert db.session.get(Edition, edition.id).status == EditionStatus.PAUSED
    assert "refused authentication (535" in db.session.get(Edition, edition.id).paused_reason
    assert statuses(edition.id) == {"queued": 6}
    assert smtp_auth_server.auth_attempts <= 4, "a refused login must pause the edition, not spin"
    assert any("paused" in record.getMessage() and "535" in record.getMessage() for record in caplog.records)

    smtp_auth_server.password = "wrong"
    control.resume_edition(edition.id)
    worker.run(once=True, poll_seconds=0.05)
    assert_each_once(smtp_auth_server, emails)
    assert statuses(edition.id) == {"sent": 6}
    assert _attempts() == [1] * 6, "a paused message's try is not counted"


def test_a_421_to_mail_that_closes_the_connection_slows_down_and_loses_nothing(fast_smtp_config, app, smtp_server):
    app.config.update(SMTP_CONNECTIONS=1, THROTTLE_BACKOFF_SECONDS=0.3)
    edition, emails = _send(10)
    smtp_server.reply_next("MAIL", None, None, closing("421 4.7.0 too many messages, closing"))

    started = time.monotonic()
    progress = worker.run(once=True, poll_seconds=0.05)

    assert time.monotonic() - started >= 0.3
    assert progress.retried == 1
    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 10}
    assert _attempts() == [1] * 10, "a throttling 421 does not count as an attempt"


def test_a_bad_smtp_url_stops_the_worker_with_a_clear_message(app_config, app):
    app.config.update(SMTP_URL="smtp://127.0.0.1:notaport")
    _send(3)

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code != 0
    assert "invalid SMTP settings" in result.output and "Traceback" not in result.output
    assert statuses() == {"queued": 3}


def test_a_long_batch_keeps_its_leases_and_sends_each_message_once(fast_smtp_config, app, smtp_server):
    app.config.update(LEASE_SECONDS=1, SEND_RATE=5, SMTP_CONNECTIONS=2)
    edition, emails = _send(20)

    worker.run(once=True, poll_seconds=0.05)

    assert_each_once(smtp_server, emails)
    assert statuses(edition.id) == {"sent": 20}


def test_a_late_outcome_from_a_worker_that_lost_its_lease_changes_nothing_but_an_acceptance_is_kept(app):
    edition, _emails = _send(2)
    ids = claims.claim("old-worker", 10, lease_seconds=60)
    jobs, _refused = claims.load_jobs(ids)
    db.session.execute(update(Delivery).values(claimed_by="new-worker", last_reply="in flight elsewhere"))
    db.session.commit()

    late = recorder.OutcomeRecorder(db.engine, worker_id="old-worker", durable=True)
    late.put(outcomes.failed(jobs[0], "550 5.1.1 late", suppress=True))
    late.put(outcomes.deferred(jobs[0], "451 late", retry_base=1, max_age=3600))
    late.put(outcomes.given_back(jobs[0], "late", cancelled=True))
    late.put(outcomes.sent(jobs[1], "250 accepted late"))
    assert late.close(timeout=10) == frozenset()

    rows = db.session.scalars(db.select(Delivery).order_by(Delivery.id)).all()
    assert (rows[0].status, rows[0].claimed_by, rows[0].attempts) == ("sending", "new-worker", 0)
    assert rows[0].last_reply == "in flight elsewhere"
    assert (rows[1].status, rows[1].last_reply) == ("sent", "250 accepted late"), "the relay took it: never again"
    assert db.session.scalar(db.select(db.func.count()).select_from(ledger.Suppression)) == 0


def test_leases_use_the_database_clock_so_a_skewed_worker_requeues_nothing(app, monkeypatch):
    _send(2)
    claimed = claims.claim("worker-a", 10, lease_seconds=60)
    monkeypatch.setattr(claims, "utcnow", lambda: ledger.utcnow() + timedelta(hours=1))

    assert claims.requeue_expired() == 0
    assert statuses() == {"sending": 2}
    claims.renew_leases("worker-a", lease_seconds=0.01, ids=set(claimed))
    time.sleep(0.05)
    assert claims.requeue_expired() == 2


def test_only_rows_the_worker_still_holds_keep_their_lease(app):
    """A row claimed under this worker's name that it no longer knows about (a claim whose commit reply was
    lost, an outcome that could not be stored) must expire and return to the queue, not stay stuck."""
    _send(3)
    ids = claims.claim("worker-a", 10, lease_seconds=0.01)
    time.sleep(0.05)

    claims.renew_leases("worker-a", lease_seconds=60, ids={ids[0]})

    assert claims.requeue_expired() == 2
    assert statuses() == {"sending": 1, "queued": 2}


def test_a_conflicting_transaction_is_retried_without_pausing_the_senders(app, monkeypatch):
    """A deadlock (SQLSTATE 40P01) while recording is another transaction in the way, not an outage: the
    batch is written again and the senders never stop (before, it paused them and logged an outage)."""
    _send(1)
    [delivery_id] = claims.claim("w", 10, lease_seconds=60)
    jobs, _refused = claims.load_jobs([delivery_id])
    kept = recorder.OutcomeRecorder(db.engine, worker_id="w", durable=True)
    real_write, tries, health = kept._write, [], []

    class Deadlock(Exception):
        sqlstate = "40P01"

    def write_after_a_deadlock(batch):
        tries.append(len(batch))
        health.append(kept.healthy.is_set())
        if len(tries) == 1:
            raise OperationalError("UPDATE deliveries …", {}, Deadlock("deadlock detected"))
        return real_write(batch)

    monkeypatch.setattr(kept, "_write", write_after_a_deadlock)
    kept.put(outcomes.sent(jobs[0], "250 ok"))
    assert kept.close(timeout=10) == frozenset()

    assert tries == [1, 1] and health == [True, True]
    assert statuses() == {"sent": 1}


@pytest.mark.postgres_only
def test_the_recorder_s_kept_connection_closed_while_idle_costs_no_outage(
    fast_smtp_config, app, smtp_server, monkeypatch, caplog
):
    """The recorder keeps its connection between batches; one that sat idle is checked before use, so a
    connection the server closed meanwhile (an idle timeout, a proxy) neither pauses the senders nor logs an
    outage."""
    monkeypatch.setattr(recorder, "KEEP_IDLE_SECONDS", 0.2)
    app.config["SMTP_CONNECTIONS"] = 1
    edition, emails = _send(2)
    kept = recorder.OutcomeRecorder(db.engine, worker_id="w", durable=False)
    try:
        first, second = claims.load_jobs(claims.claim("w", 2, lease_seconds=60), "w")[0]
        kept.put(outcomes.sent(first, "250 ok"))
        wait_for(lambda: not kept.pending_ids())
        backend = kept._held.connection.dbapi_connection.info.backend_pid
        db.session.execute(db.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        db.session.commit()
        time.sleep(0.4)
        outages = []
        kept.healthy.clear = lambda: outages.append("senders paused")

        kept.put(outcomes.sent(second, "250 ok"))
        wait_for(lambda: not kept.pending_ids())
    finally:
        kept.close(5)

    assert outages == [] and "unreachable" not in caplog.text
    assert statuses(edition.id) == {"sent": 2}


def test_an_outage_while_a_refused_batch_is_written_row_by_row_loses_no_outcome(app, monkeypatch):
    """A batch the database refuses is written row by row. An outage then was taken for a refusal of that
    row: its outcome was dropped, and an accepted message was sent again once its lease ran out. Now each
    row rides out an outage as a batch does."""
    from sqlalchemy.exc import IntegrityError

    _send(2)
    jobs, _refused = claims.load_jobs(claims.claim("w", 10, lease_seconds=60))
    kept = recorder.OutcomeRecorder(db.engine, worker_id="w", durable=True)
    real_write, writes = kept._write, []

    def refused_then_cut_off(batch):
        writes.append(len(batch))
        if len(writes) == 1:
            raise IntegrityError("UPDATE deliveries …", {}, Exception("refused"))
        if len(writes) == 2:
            raise OperationalError("UPDATE deliveries …", {}, Exception("server closed the connection unexpectedly"))
        return real_write(batch)

    monkeypatch.setattr(kept, "_write", refused_then_cut_off)
    for job in jobs:
        kept.put(outcomes.sent(job, "250 ok"))
    assert kept.close(timeout=10) == frozenset()

    assert writes[:3] == [2, 1, 1]
    assert statuses() == {"sent": 2}
