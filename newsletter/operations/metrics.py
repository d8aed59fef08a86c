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
from newsletter.models import BounceEvent, Delivery, Edition, Heartbeat, Suppression
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


def _bounces() -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "newsletter_bounce_reports", "Bounce and complaint reports received, by kind", labels=["kind"]
    )
    for kind, count in db.session.execute(select(BounceEvent.kind, func.count()).group_by(BounceEvent.kind)):
        family.add_metric([kind], count)
    yield family
    yield GaugeMetricFamily(
        "newsletter_suppressed_addresses",
        "Addresses on the suppression list",
        value=db.session.scalar(select(func.count()).select_from(Suppression)) or 0,
    )


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
    family = GaugeMetricFamily(
        "newsletter_heartbeat_timestamp_seconds",
        "Last heartbeat of each worker and scheduler process",
        labels=["role", "process"],
    )
    for row in db.session.scalars(select(Heartbeat)):
        family.add_metric([row.role, row.process], row.beat_at.timestamp())
    return family


class DatabaseCollector:
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield _queue()
        yield _outcomes()
        yield from _bounces()
        yield _editions()
        yield from _scheduler()
        yield _heartbeats()


def exposition() -> bytes:
    """The Prometheus text format of every figure, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)
