"""The rules for what comes back: a hard bounce or a complaint suppresses at once, soft bounces after a few.

`handle` records each report once (keyed by the report itself), ties it to its delivery, and applies the
rules in one transaction. Reports it cannot read or tie to a delivery are recorded and kept for an operator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from newsletter.bounces.matching import Target, find_target
from newsletter.bounces.parsing import Report
from newsletter.core.extensions import db
from newsletter.models import BounceEvent, BounceKind, Subscriber, utcnow
from newsletter.models.subscribers import SuppressionCause
from newsletter.subscribers import subscriptions, suppression

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of one report."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNMATCHED = "unmatched"
    UNRECOGNISED = "unrecognised"


@dataclass(frozen=True)
class BounceRules:
    """The settings the rules need, read once from the configuration."""

    soft_limit: int
    soft_days: int
    secret: str
    keep_dir: Path

    @classmethod
    def from_config(cls, config) -> BounceRules:
        return cls(
            int(config["SOFT_BOUNCE_LIMIT"]),
            int(config["SOFT_BOUNCE_DAYS"]),
            str(config["SECRET_KEY"]),
            Path(config["BOUNCE_KEEP_DIR"]),
        )


def handle(report: Report, rules: BounceRules, *, source: str, envelope: tuple[str, ...] = ()) -> Outcome:
    """Record the report and apply the rules; the same report a second time changes nothing."""
    if db.session.scalar(select(BounceEvent.id).where(BounceEvent.report_key == report.key)) is not None:
        return Outcome.DUPLICATE
    target, _claimed = find_target(
        envelope + report.addresses, report.original_message_id, rules.secret, report.recipient
    )
    if report.kind == BounceKind.COMPLAINT and target is not None and target.subscriber_id is not None:
        _unsubscribe(target.subscriber_id)
    db.session.add(
        BounceEvent(
            report_key=report.key,
            kind=str(report.kind),
            source=source[:32],
            status=report.status,
            diagnostic=report.diagnostic,
            delivery_id=target.delivery_id if target else None,
            edition_id=target.edition_id if target else None,
            subscriber_id=target.subscriber_id if target else None,
        )
    )
    if target is not None and target.email is not None:
        _apply(report, target, rules)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Outcome.DUPLICATE
    if report.kind == BounceKind.UNRECOGNISED:
        return Outcome.UNRECOGNISED
    if target is None:
        log.warning("%s report from %s names no delivery of ours; kept", report.kind, source)
        return Outcome.UNMATCHED
    log.info("%s report for delivery %s (%s)", report.kind, target.delivery_id, report.status or "-")
    return Outcome.APPLIED


def _unsubscribe(subscriber_id: int) -> None:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        subscriptions.unsubscribe(subscriber)


def _apply(report: Report, target: Target, rules: BounceRules) -> None:
    reason = " ".join(filter(None, [report.status, report.diagnostic])) or str(report.kind)
    if report.kind == BounceKind.HARD:
        suppression.suppress(
            target.email, SuppressionCause.HARD_BOUNCE, reason, rules.secret, delivery_id=target.delivery_id
        )
    elif report.kind == BounceKind.COMPLAINT:
        suppression.suppress(
            target.email,
            SuppressionCause.COMPLAINT,
            f"complaint: {reason}",
            rules.secret,
            delivery_id=target.delivery_id,
        )
    elif report.kind == BounceKind.SOFT and _soft_editions(target.subscriber_id, rules) >= rules.soft_limit:
        suppression.suppress(
            target.email,
            SuppressionCause.SOFT_BOUNCES,
            f"{rules.soft_limit} soft bounces within {rules.soft_days} days; last: {reason}",
            rules.secret,
            delivery_id=target.delivery_id,
        )


def _soft_editions(subscriber_id: int | None, rules: BounceRules) -> int:
    """Distinct editions with a soft bounce for this subscriber in the window (the one being added included)."""
    db.session.flush()
    since = utcnow() - timedelta(days=rules.soft_days)
    return int(
        db.session.scalar(
            select(func.count(func.distinct(BounceEvent.edition_id))).where(
                BounceEvent.subscriber_id == subscriber_id,
                BounceEvent.kind == BounceKind.SOFT,
                BounceEvent.edition_id.is_not(None),
                BounceEvent.received_at >= since,
            )
        )
        or 0
    )


def keep(raw: bytes, report: Report, rules: BounceRules) -> Path:
    """Keep a report that was not applied, for an operator to read; returns the file's path."""
    rules.keep_dir.mkdir(parents=True, exist_ok=True)
    path = rules.keep_dir / f"{report.key}.eml"
    if not path.exists():
        path.write_bytes(raw)
    return path
