"""The fence's rule (what a worker may still send) and the journal of accepted deliveries (what a killed one
leaves for the next worker on the host)."""

from __future__ import annotations

import os

from fixtures.delivery import add_edition, add_subscribers, statuses

from newsletter.core.extensions import db
from newsletter.delivery import claims, journal, ledger, outcomes
from newsletter.delivery.fencing import Fence


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_row_is_sendable_only_while_its_lease_is_known_to_be_held():
    clock = Clock()
    fence = Fence(lease_seconds=3, margin_seconds=1, clock=clock)
    fence.claimed([1, 2], at=100.0)
    clock.now = 101.9
    assert fence.holds(1) and fence.holds(2)
    clock.now = 102.0  # claimed 2 s ago: lease (3) minus margin (1) is over, nothing renewed it
    assert not fence.admits(1)
    assert fence.renewed(unsent={1, 2}, held={1}, at=101.5) == 1  # row 2 was requeued by another worker meanwhile
    assert fence.holds(1) and not fence.holds(2)
    clock.now = 103.6
    assert not fence.holds(1), "a renewal's lease counts from when it started"
    assert fence.dropped == 1


def test_a_row_claimed_again_after_it_was_lost_is_held_again():
    clock = Clock()
    fence = Fence(lease_seconds=3, margin_seconds=1, clock=clock)
    fence.claimed([7], at=100.0)
    fence.renewed(unsent={7}, held=set(), at=100.5)
    assert not fence.holds(7)
    fence.claimed([7], at=100.6)
    assert fence.holds(7)


def _claimed_jobs(count: int):
    add_subscribers(count, "en")
    edition = add_edition("en")
    ledger.enqueue_edition(edition)
    ids = claims.claim("dead-worker", count, 60)
    jobs, _refused = claims.load_jobs(ids, "dead-worker")
    return edition, jobs


def test_a_dead_process_journal_is_stored_once_and_a_live_one_is_left_alone(app, tmp_path):
    edition, jobs = _claimed_jobs(4)
    scope = journal.scope_of(app.config["DATABASE_URL"])
    dead = journal.Journal(tmp_path, "host:1:dead", scope)
    for job in jobs[:2]:
        dead.accepted(job.delivery_id, outcomes.sent(job, "250 2.0.0 queued").values)
    alive = journal.Journal(tmp_path, "host:2:alive", scope)
    alive.accepted(jobs[2].delivery_id, outcomes.sent(jobs[2], "250 2.0.0 queued").values)

    assert journal.replay(tmp_path, db.engine, "host:3:new", scope) == 0, "both owners hold their lock"
    os.close(dead._fd)  # the process dies: the kernel lets go of its lock, the file stays
    with open(dead.path, "ab") as torn:
        torn.write(b'{"id": 12')  # a line the kill cut in two

    assert journal.replay(tmp_path, db.engine, "host:3:new", scope) == 2
    assert statuses(edition.id) == {"sent": 2, "sending": 2}
    assert not dead.path.exists() and alive.path.exists()
    assert journal.replay(tmp_path, db.engine, "host:3:new", scope) == 0
    assert journal.replay(tmp_path, db.engine, "host:3:new", "another-database") == 0
    alive.close(keep=False)
    assert alive.path.exists(), "a line not yet stored keeps the file"


def test_the_journal_starts_afresh_keeping_only_unstored_lines(app, tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "ROTATE_LINES", 3)
    _edition, jobs = _claimed_jobs(5)
    diary = journal.Journal(tmp_path, "host:1:busy", "scope")
    first = diary.path
    for job in jobs:
        diary.accepted(job.delivery_id, outcomes.sent(job, "250 ok").values)
    for job in jobs[:3]:
        diary.settled(job.delivery_id)
    assert not first.exists() and diary.path.exists()
    kept = diary.path.read_text().splitlines()
    assert sorted(line.split(",")[0] for line in kept) == sorted(f'{{"id":{job.delivery_id}' for job in jobs[3:])
    for job in jobs[3:]:
        diary.settled(job.delivery_id)
    diary.close(keep=False)
    assert not diary.path.exists()
