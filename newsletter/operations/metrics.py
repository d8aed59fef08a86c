"""Prometheus figures, read from the database at each scrape, so any number of web processes agree.

Nothing is counted in process memory: the ledger, the bounce events, the scheduler's runs and the
heartbeats already hold every figure, and a scrape reads them with a handful of grouped queries.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import case, func, select

from newsletter.core.extensions import db
from newsletter.models import BounceEvent, Delivery, Edition, Heartbeat, Suppression, utcnow
from newsletter.models.content import SchedulerRun
from newsletter.models.delivery import DeliveryStatus

REPLY_CLASS = case(
    (Delivery.last_reply.like("2%"), "2xx"),
    (Delivery.last_reply.like("4%"), "4xx"),
    (Delivery.last_reply.like("5%"), "5xx"),
    (Delivery.last_reply.is_(None), "none"),
    else_="other",
)


def _queue() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "newsletter_deliveries", "Deliveries in the ledger by state and kind", labels=["state", "kind"]
    )
    rows = db.session.execute(
        select(Delivery.status, Delivery.kind, func.count()).group_by(Delivery.status, Delivery.kind)
    )
    for status, kind, count in rows:
        family.add_metric([status, kind], count)
    return family


def _outcomes() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "newsletter_delivery_outcomes",
        "Sent, deferred (queued again after a temporary failure) and failed "
        "deliveries, by the class of the relay's last reply",
        labels=["outcome", "reply_class"],
    )
    deferred = (Delivery.status == DeliveryStatus.QUEUED) & (Delivery.attempts > 0)
    outcome = case(
        (Delivery.status == DeliveryStatus.SENT, "sent"),
        (Delivery.status == DeliveryStatus.FAILED, "failed"),
        (deferred, "deferred"),
        else_=None,
    )
    rows = db.session.execute(
        select(outcome, REPLY_CLASS, func.count()).where(outcome.is_not(None)).group_by(outcome, REPLY_CLASS)
    )
    for name, reply_class, count in rows:
        family.add_metric([name, reply_class], count)
    return family


TOP_DOMAINS = 20
REPORT_CLASS = case(
    (BounceEvent.kind == "unrecognised", "unreadable"),
    ((BounceEvent.delivery_id.is_(None)) & (BounceEvent.kind != "ignored"), "unmatched"),
    else_=BounceEvent.kind,
)


def _bounces() -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "newsletter_bounce_reports",
        "Bounce and complaint reports received, by class (hard, soft, about_us, complaint, unsubscribe, "
        "ignored, unreadable, unmatched)",
        labels=["kind"],
    )
    for kind, count in db.session.execute(select(REPORT_CLASS, func.count()).group_by(REPORT_CLASS)):
        family.add_metric([kind], count)
    yield family
    yield _about_us_domains()
    yield GaugeMetricFamily(
        "newsletter_suppressed_addresses",
        "Addresses on the suppression list",
        value=db.session.scalar(select(func.count()).select_from(Suppression)) or 0,
    )


def _about_us_domains() -> GaugeMetricFamily:
    """Reports about us per receiving domain: the top 20 by name, the rest as `other` (bounded labels)."""
    family = GaugeMetricFamily(
        "newsletter_bounce_reports_about_us",
        "Reports that are about the sender (blocks, policy, authentication), by receiving domain (top 20, other)",
        labels=["domain"],
    )
    rows = db.session.execute(
        select(BounceEvent.receiving_domain, func.count())
        .where(BounceEvent.kind == "about_us")
        .group_by(BounceEvent.receiving_domain)
        .order_by(func.count().desc(), BounceEvent.receiving_domain)
    ).all()
    for domain, count in rows[:TOP_DOMAINS]:
        family.add_metric([domain or "unknown"], count)
    if len(rows) > TOP_DOMAINS:
        family.add_metric(["other"], sum(count for _domain, count in rows[TOP_DOMAINS:]))
    return family


def _paused() -> Iterator[GaugeMetricFamily]:
    """Paused editions and why (the why as a bounded class), and the age of the oldest queued delivery."""
    paused = GaugeMetricFamily(
        "newsletter_editions_paused",
        "Editions paused now, by why (bounce_reports, circuit_breaker, editor)",
        labels=["why"],
    )
    why = case(
        (Edition.paused_reason.like("paused after % bounce reports%"), "bounce_reports"),
        (Edition.paused_reason.like("paused by the circuit breaker%"), "circuit_breaker"),
        else_="editor",
    )
    counts: dict[str, int] = dict(
        db.session.execute(select(why, func.count()).where(Edition.status == "paused").group_by(why)).all()
    )
    for name in ("bounce_reports", "circuit_breaker", "editor"):
        paused.add_metric([name], counts.get(name, 0))
    yield paused
    oldest = db.session.scalar(select(func.min(Delivery.created_at)).where(Delivery.status == DeliveryStatus.QUEUED))
    age = GaugeMetricFamily(
        "newsletter_oldest_queued_delivery_age_seconds", "Age of the oldest queued delivery (0 when none is queued)"
    )
    age.add_metric([], max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0)
    yield age


def _editions() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "newsletter_edition_last_sent_timestamp_seconds",
        "When the latest edition of each language finished sending",
        labels=["language"],
    )
    for language, sent_at in db.session.execute(
        select(Edition.language, func.max(Edition.sent_at)).group_by(Edition.language)
    ):
        if sent_at is not None:
            family.add_metric([language], sent_at.timestamp())
    return family


def _scheduler() -> Iterator[GaugeMetricFamily]:
    run = db.session.scalar(select(SchedulerRun).order_by(SchedulerRun.due_at.desc()).limit(1))
    started = GaugeMetricFamily("newsletter_scheduler_last_run_timestamp_seconds", "When the latest weekly run started")
    finished = GaugeMetricFamily("newsletter_scheduler_last_run_finished", "1 when the latest weekly run finished")
    outcome = GaugeMetricFamily(
        "newsletter_scheduler_last_run_outcome",
        "The latest weekly run's outcome per language (1 for the outcome it had)",
        labels=["language", "outcome"],
    )
    if run is not None:
        started.add_metric([], run.started_at.timestamp())
        finished.add_metric([], 1 if run.finished_at else 0)
        for part in filter(None, (piece.strip() for piece in run.outcome.split(";"))):
            language, _, text = part.partition(": ")
            if text:
                outcome.add_metric([language, text.split(" to ")[0]], 1)
    yield from (started, finished, outcome)


def _heartbeats() -> GaugeMetricFamily:
    """Keyed by role and host, not by process id: a restarted process adds no series."""
    family = GaugeMetricFamily(
        "newsletter_heartbeat_timestamp_seconds",
        "Last heartbeat of the worker and scheduler processes on each host",
        labels=["role", "host"],
    )
    latest: dict[tuple[str, str], float] = {}
    for role, process, beat_at in db.session.execute(select(Heartbeat.role, Heartbeat.process, Heartbeat.beat_at)):
        parts = process.split(":")
        host = parts[1] if len(parts) >= 3 else process
        key = (role, host)
        latest[key] = max(latest.get(key, 0.0), beat_at.timestamp())
    for (role, host), stamp in sorted(latest.items()):
        family.add_metric([role, host], stamp)
    return family


class DatabaseCollector:
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield _queue()
        yield _outcomes()
        yield from _bounces()
        yield from _paused()
        yield _editions()
        yield from _scheduler()
        yield _heartbeats()


def exposition() -> bytes:
    """The Prometheus text format of every figure, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)
