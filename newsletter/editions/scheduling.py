"""Scheduling an edition's send for a time: parsing the time, refusing the past, unscheduling, overdue sends.

A scheduled send is done by the scheduler's periodic check if it comes due while a scheduler runs, or
within the grace time after one comes back; later than that it stays scheduled and is reported as overdue
instead of reaching readers days late.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from newsletter.content.weeks import YEARS, publication_zone
from newsletter.core.extensions import db
from newsletter.editions.editorial import EditionInvalid
from newsletter.models import Edition, utcnow
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import Action, transition


class BadSendTime(EditionInvalid):
    """A send time that cannot be used: unreadable, in an unknown zone, out of range or in the past."""

    def __init__(self, message: str):
        super().__init__({"at": message})
        self.message = message


def as_aware(moment: datetime, zone: tzinfo | None = None) -> datetime:
    """A naive time is read in `zone` (default: the publication's)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=zone or publication_zone())


def _read(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise BadSendTime(
            f"unknown time zone {name[:60]!r}; use e.g. Europe/Minsk or an offset such as +03:00"
        ) from error


def parse_send_time(value: object) -> datetime:
    """An ISO 8601 date and time, with "Z", an offset or a trailing zone name ("2026-12-07 09:00 Europe/Warsaw");
    none means the publication's zone. Or BadSendTime. Whether it is in the past is `schedule_edition`'s business."""
    if not isinstance(value, str) or not value.strip():
        raise BadSendTime("is required: an ISO 8601 date and time, e.g. 2026-12-07T09:00")
    text = " ".join(value.split())
    parsed, zone = _read(text), None
    head, _space, tail = text.rpartition(" ")
    head_time = _read(head) if parsed is None and head else None
    if head_time is not None:
        parsed, zone = head_time, _zone(tail)
        if parsed.tzinfo is not None:
            raise BadSendTime("give either an offset or a zone name, not both")
    if parsed is None:
        raise BadSendTime(f"not an ISO 8601 date and time, e.g. 2026-12-07T09:00: {value[:60]!r}")
    moment = as_aware(parsed, zone)
    if moment.year not in YEARS:
        raise BadSendTime(f"not in the years {YEARS.start} to {YEARS.stop - 1}")
    return moment


def shown_time(moment: datetime | None) -> str | None:
    """A stored time as the publication's local time with its offset, e.g. 2026-12-07T09:00:00+03:00."""
    return moment.astimezone(publication_zone()).isoformat() if moment else None


def schedule_edition(edition: Edition, when: datetime, now: datetime | None = None) -> Edition:
    """Send the edition at `when` (a draft, or a scheduled one being moved); a time in the past is refused."""
    when = as_aware(when)
    if when <= (now or utcnow()):
        raise BadSendTime(f"is in the past ({shown_time(when)}); give a future time")
    transition(edition, Action.SCHEDULE, scheduled_for=when)
    db.session.refresh(edition)
    return edition


def unschedule_edition(edition: Edition) -> Edition:
    """Back to draft: it will not be sent at its time, and can be edited, scheduled or sent again."""
    transition(edition, Action.UNSCHEDULE)
    db.session.refresh(edition)
    return edition


def due_scheduled_editions(grace: timedelta, now: datetime | None = None) -> list[Edition]:
    """Scheduled editions whose time has come, no longer ago than `grace`."""
    now = now or utcnow()
    query = select(Edition).where(
        Edition.status == EditionStatus.SCHEDULED, Edition.scheduled_for <= now, Edition.scheduled_for >= now - grace
    )
    return list(db.session.scalars(query.order_by(Edition.scheduled_for, Edition.id)))


def overdue_editions(grace: timedelta, now: datetime | None = None) -> list[Edition]:
    """Scheduled editions whose time passed more than `grace` ago: left for an editor to decide."""
    query = select(Edition).where(
        Edition.status == EditionStatus.SCHEDULED, Edition.scheduled_for < (now or utcnow()) - grace
    )
    return list(db.session.scalars(query.order_by(Edition.scheduled_for, Edition.id)))


def is_overdue(edition: Edition, grace: timedelta, now: datetime | None = None) -> bool:
    return (
        edition.status == EditionStatus.SCHEDULED
        and edition.scheduled_for is not None
        and edition.scheduled_for < (now or utcnow()) - grace
    )
