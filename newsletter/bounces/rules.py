"""The rules for what comes back: a hard bounce or a complaint suppresses at once, soft bounces after a few,
an opt-out unsubscribes, and a report about us (a block, a policy) never touches the reader: a burst of them
for one edition pauses it with the reason, as the circuit breaker does for refusals at RCPT.

`handle` records each report once (keyed by the report itself), ties it to its delivery, and applies the
rules in one transaction. Reports it cannot read or tie to a delivery are recorded and kept for an operator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from newsletter.bounces.matching import Target, find_target
from newsletter.bounces.report import Report
from newsletter.core.extensions import db
from newsletter.delivery import gate
from newsletter.models import BounceEvent, BounceKind, Edition, Subscriber, utcnow
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import EditionConflict
from newsletter.models.subscribers import SuppressionCause
from newsletter.subscribers import subscriptions, suppression

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of one report."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNMATCHED = "unmatched"
    UNRECOGNISED = "unrecognised"


@dataclass(frozen=True)
class BounceRules:
    """The settings the rules need, read once from the configuration."""

    soft_limit: int
    soft_days: int
    secret: str
    keep_dir: Path
    about_us_burst: int = 20
    about_us_minutes: int = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BounceRules:
        return cls(
            int(config["SOFT_BOUNCE_LIMIT"]),
            int(config["SOFT_BOUNCE_DAYS"]),
            str(config["SECRET_KEY"]),
            Path(config["BOUNCE_KEEP_DIR"]),
            max(1, int(config["ABOUT_US_BURST"])),
            max(1, int(config["ABOUT_US_MINUTES"])),
        )


def handle(report: Report, rules: BounceRules, *, source: str, envelope: tuple[str, ...] = ()) -> Outcome:
    """Record the report and apply the rules; the same report a second time changes nothing."""
    report = report.storable()
    if db.session.scalar(select(BounceEvent.id).where(BounceEvent.report_key == report.key)) is not None:
        return Outcome.DUPLICATE
    target, _claimed = find_target(
        envelope + report.addresses, report.original_message_id, rules.secret, report.recipient
    )
    unsubscribing = (BounceKind.COMPLAINT, BounceKind.UNSUBSCRIBE)
    if report.kind in unsubscribing and target is not None and target.subscriber_id is not None:
        _unsubscribe(target.subscriber_id)
    db.session.add(
        BounceEvent(
            report_key=report.key,
            kind=str(report.kind),
            source=source[:32],
            status=report.status,
            diagnostic=report.diagnostic,
            reason=report.reason,
            receiving_domain=receiving_domain(target.email) if target and target.email else None,
            delivery_id=target.delivery_id if target else None,
            edition_id=target.edition_id if target else None,
            subscriber_id=target.subscriber_id if target else None,
        )
    )
    if target is not None and target.email is not None:
        _apply(report, target, target.email, rules)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Outcome.DUPLICATE
    if report.kind == BounceKind.UNRECOGNISED:
        log.warning(
            "unreadable report from %s (%s); kept as %s.eml", source, report.reason or "no known format", report.key
        )
        return Outcome.UNRECOGNISED
    if report.kind == BounceKind.IGNORED:
        return Outcome.IGNORED
    if target is None:
        log.warning("%s report from %s names no delivery of ours; kept as %s.eml", report.kind, source, report.key)
        return Outcome.UNMATCHED
    log.info(
        "%s report (%s) for delivery %s (%s)", report.kind, report.reason, target.delivery_id, report.status or "-"
    )
    if report.kind == BounceKind.ABOUT_US and target.edition_id is not None:
        _pause_on_burst(target.edition_id, report, rules)
    return Outcome.APPLIED


def receiving_domain(address: str) -> str | None:
    """The reader's mail domain (what a block is counted by), lower case."""
    _, at, domain = address.rpartition("@")
    return domain.strip().lower()[:255] or None if at else None


def _pause_on_burst(edition_id: int, report: Report, rules: BounceRules) -> None:
    """A burst of reports about us for one edition pauses it with the reason (only while it is sending)."""
    since = utcnow() - timedelta(minutes=rules.about_us_minutes)
    count = db.session.scalar(
        select(func.count(BounceEvent.id)).where(
            BounceEvent.edition_id == edition_id,
            BounceEvent.kind == BounceKind.ABOUT_US,
            BounceEvent.received_at >= since,
        )
    )
    if int(count or 0) < rules.about_us_burst:
        return
    if db.session.scalar(select(Edition.status).where(Edition.id == edition_id)) != EditionStatus.SENDING:
        return
    reason = (
        f"paused after {count} bounce reports about the sender within {rules.about_us_minutes} minutes "
        f"({report.reason}); last: {' '.join(filter(None, [report.status, report.diagnostic]))}"
    )[:500]
    try:
        gate.pause(edition_id, reason)
    except EditionConflict:  # it finished, or an editor paused or cancelled it meanwhile
        db.session.rollback()
        return
    log.warning(
        "edition %s paused: %s reports about the sender within %s minutes", edition_id, count, rules.about_us_minutes
    )


def _unsubscribe(subscriber_id: int) -> None:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        subscriptions.unsubscribe(subscriber)


def _apply(report: Report, target: Target, email: str, rules: BounceRules) -> None:
    reason = " ".join(filter(None, [report.status, report.diagnostic])) or str(report.kind)
    if report.kind == BounceKind.HARD:
        suppression.suppress(email, SuppressionCause.HARD_BOUNCE, reason, rules.secret, delivery_id=target.delivery_id)
    elif report.kind == BounceKind.COMPLAINT:
        suppression.suppress(
            email,
            SuppressionCause.COMPLAINT,
            f"complaint: {reason}",
            rules.secret,
            delivery_id=target.delivery_id,
        )
    elif report.kind == BounceKind.SOFT and _soft_editions(target.subscriber_id, rules) >= rules.soft_limit:
        suppression.suppress(
            email,
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
