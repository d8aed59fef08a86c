"""The edition's lifecycle: every state, every action and which states allow it, in one table.

Everything else asks this module: the transition function moves an edition with one conditional UPDATE
(so two editors, two schedulers or a worker racing each other cannot both win), and the sets the rest of
the code needs (rebuildable, sendable, held, public) are derived from the table instead of being spelled
again. Adding a state, such as an approval step, or an action, such as "retry failed" or "paused by the
circuit breaker", means adding rows here.

    draft ──schedule──► scheduled ──unschedule──► draft
    draft, scheduled ──send──► sending ──finish──► sent
    sending ──pause──► paused ──resume──► sending
    sent ──resend (failed deliveries queued again)──► sending
    draft, scheduled, sending, paused ──cancel──► cancelled ──reopen──► draft   (only with no deliveries)

A new action is one more `_rule(...)` row (with `holds=True` if the worker must stop claiming its
deliveries); extra columns it sets are passed to `transition(..., column=value)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, false, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from newsletter.core.database import affected_rows
from newsletter.core.extensions import db
from newsletter.models import Delivery, Edition, utcnow
from newsletter.models.content import EditionStatus
from newsletter.models.delivery import DeliveryStatus

S = EditionStatus


class Action(StrEnum):
    """What an editor, the scheduler or the worker can do to an edition."""

    BUILD = "build"  # re-render from the current articles and overrides (a permission: the state stays)
    EDIT = "edit"  # change subject, intro, order, lead article, exclusions (a permission)
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    SEND = "send"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    REOPEN = "reopen"
    FINISH = "finish"  # the worker: every delivery is settled
    RETRY_FAILED = "retry failed deliveries"  # queue failed deliveries once more (a permission)
    RESEND = "resend"  # a sent edition whose failed deliveries were queued again sends again
    WEEKLY_SEND = "weekly send"  # the scheduler's weekly run sends it (one an editor scheduled waits for its time)
    PUBLISH = "publish"  # shown in the public archive (a permission)


class Guard(StrEnum):
    """A condition on the edition's deliveries, checked inside the same conditional UPDATE."""

    NO_DELIVERIES = "no deliveries"
    DELIVERED = "at least one copy delivered"


@dataclass(frozen=True)
class Rule:
    """One row: `action` is allowed from `sources`; it moves the edition to `target` (None: no move).

    `stamp` columns are set to the time of the move, `clear` columns to NULL. `repeatable`: asking for it
    when already at `target` is a no-op rather than a conflict. `holds` marks a target whose queued
    deliveries the worker must not claim.
    """

    action: Action
    sources: frozenset[EditionStatus]
    target: EditionStatus | None = None
    guard: Guard | None = None
    stamp: tuple[str, ...] = ()
    clear: tuple[str, ...] = ()
    repeatable: bool = False
    holds: bool = False


def _rule(action: Action, sources: set[EditionStatus], target: EditionStatus | None = None, **options: Any) -> Rule:
    return Rule(action, frozenset(sources), target, **options)


TABLE: tuple[Rule, ...] = (
    _rule(Action.BUILD, {S.DRAFT, S.SCHEDULED}),
    _rule(Action.EDIT, {S.DRAFT, S.SCHEDULED}),
    _rule(Action.SCHEDULE, {S.DRAFT, S.SCHEDULED}, S.SCHEDULED),
    _rule(Action.UNSCHEDULE, {S.SCHEDULED}, S.DRAFT, clear=("scheduled_for",)),
    _rule(Action.SEND, {S.DRAFT, S.SCHEDULED}, S.SENDING, stamp=("send_started_at",)),
    _rule(Action.PAUSE, {S.SENDING}, S.PAUSED, stamp=("paused_at",), repeatable=True, holds=True),
    _rule(Action.RESUME, {S.PAUSED}, S.SENDING, clear=("paused_at", "paused_reason"), repeatable=True),
    _rule(
        Action.CANCEL,
        {S.DRAFT, S.SCHEDULED, S.SENDING, S.PAUSED},
        S.CANCELLED,
        stamp=("cancelled_at",),
        clear=("scheduled_for",),
        repeatable=True,
        holds=True,
    ),
    _rule(
        Action.REOPEN,
        {S.CANCELLED},
        S.DRAFT,
        guard=Guard.NO_DELIVERIES,
        clear=("cancelled_at", "send_started_at", "scheduled_for"),
    ),
    _rule(Action.FINISH, {S.SENDING}, S.SENT, stamp=("sent_at",)),
    _rule(Action.RETRY_FAILED, {S.SENDING, S.PAUSED, S.SENT}),
    _rule(Action.RESEND, {S.SENT}, S.SENDING, clear=("sent_at",)),
    _rule(Action.WEEKLY_SEND, {S.DRAFT}),
    _rule(Action.PUBLISH, {S.SENDING, S.PAUSED, S.SENT}),
    _rule(Action.PUBLISH, {S.CANCELLED}, guard=Guard.DELIVERED),
)


def rules(action: Action) -> tuple[Rule, ...]:
    return tuple(rule for rule in TABLE if rule.action == action)


def allowed_from(action: Action) -> tuple[EditionStatus, ...]:
    """Every state from which `action` is allowed (ignoring guards), as a tuple ready for SQL `IN`."""
    return tuple(sorted(frozenset().union(*(rule.sources for rule in rules(action)))))


REBUILDABLE = allowed_from(Action.BUILD)
EDITABLE = allowed_from(Action.EDIT)
SENDABLE = allowed_from(Action.SEND)
HELD = tuple(sorted({rule.target for rule in TABLE if rule.holds and rule.target is not None}))
PUBLIC = allowed_from(Action.PUBLISH)


def allows(status: str, action: Action) -> bool:
    """Whether `action` is allowed from `status`, guards aside (for showing buttons, not for deciding)."""
    return status in allowed_from(action)


class EditionConflict(Exception):
    """The edition is not in a state that allows the action; names the current state (HTTP 409)."""

    def __init__(self, edition_id: int, status: str | None, action: str, reason: str | None = None):
        what = f"edition {edition_id} is {status or 'missing'}"
        if reason:
            what += f" ({reason})"
        super().__init__(f"{what}; cannot {action}")
        self.edition_id = edition_id
        self.status = status
        self.action = action


def _guard_clause(guard: Guard | None) -> ColumnElement[bool] | None:
    if guard is None:
        return None
    any_delivery = exists().where(Delivery.edition_id == Edition.id)
    if guard == Guard.NO_DELIVERIES:
        return ~any_delivery
    return exists().where(Delivery.edition_id == Edition.id, Delivery.status == DeliveryStatus.SENT)


def condition(action: Action) -> ColumnElement[bool]:
    """SQL: the edition's state (and guard) allow `action`; usable in any query on editions."""
    clauses = []
    for rule in rules(action):
        clause = Edition.status.in_(sorted(rule.sources))
        guard = _guard_clause(rule.guard)
        clauses.append(clause if guard is None else and_(clause, guard))
    return or_(*clauses) if clauses else false()


def _move_values(rule: Rule, values: dict[str, object]) -> dict[str, object]:
    now = utcnow()
    moved: dict[str, object] = {name: now for name in rule.stamp} | {name: None for name in rule.clear}
    return moved | values | {"status": rule.target}


def _edition_id(edition: Edition | int) -> int:
    return edition if isinstance(edition, int) else edition.id


def status_of(edition_id: int) -> str | None:
    return db.session.scalar(select(Edition.status).where(Edition.id == edition_id))


def _refusal_reason(status: str | None, action: Action) -> str | None:
    for rule in rules(action):
        if status in rule.sources and rule.guard is not None:
            return f"it has {'deliveries' if rule.guard == Guard.NO_DELIVERIES else 'no delivered copy'}"
    return None


def transition(edition: Edition | int, action: Action, *, commit: bool = True, **values: object) -> EditionStatus:
    """Perform `action` with one conditional UPDATE; return the new state or raise EditionConflict.

    `values` are further columns to set in the same UPDATE (e.g. `scheduled_for`). With `commit=False` the
    caller finishes the transaction (the send queues its deliveries in it); on a conflict it is rolled back.
    """
    edition_id = _edition_id(edition)
    rule, target = _moving_rule(action)
    moved = affected_rows(
        db.session.execute(
            update(Edition)
            .where(Edition.id == edition_id, condition(action))
            .values(**_move_values(rule, values))
            .execution_options(synchronize_session=False),
        )
    )
    if not moved:
        status = status_of(edition_id)
        db.session.rollback()
        if rule.repeatable and status == target:
            return target
        raise EditionConflict(edition_id, status, str(action), _refusal_reason(status, action))
    if commit:
        db.session.commit()
    if isinstance(edition, Edition):
        db.session.expire(edition)
    return target


def _moving_rule(action: Action) -> tuple[Rule, EditionStatus]:
    """The rule by which `action` moves an edition, with the state it moves it to."""
    for rule in rules(action):
        if rule.target is not None:
            return rule, rule.target
    raise ValueError(f"{action} is a permission: it moves no edition")
