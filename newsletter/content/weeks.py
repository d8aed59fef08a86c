"""Publication weeks: Monday 00:00 to the next Monday 00:00 in NEWSLETTER_TIMEZONE, never UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from flask import current_app

from newsletter.core.settings import settings_of

YEARS = range(1900, 3000)


class BadWeek(ValueError):
    """A week argument that is not a calendar date in the years 1900–2999."""


def publication_zone() -> ZoneInfo:
    """NEWSLETTER_TIMEZONE, from the settings of the app in context."""
    return settings_of(current_app).site.timezone


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_week(value: str) -> date:
    """The Monday of the week containing the date YYYY-MM-DD."""
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError as error:
        raise BadWeek(f"not a date (YYYY-MM-DD): {value!r}") from error
    if day.year not in YEARS:
        raise BadWeek(f"not a year from {YEARS.start} to {YEARS.stop - 1}: {value!r}")
    return monday_of(day)


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """The week's [start, end) as aware UTC datetimes."""
    zone = publication_zone()
    start = datetime.combine(week_start, time(0, 0), tzinfo=zone)
    end = datetime.combine(week_start + timedelta(days=7), time(0, 0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_of(moment: datetime) -> date:
    """The Monday of the publication week an aware moment falls in."""
    return monday_of(moment.astimezone(publication_zone()).date())


def previous_week(moment: datetime) -> date:
    """The week that ended most recently before `moment` (the one the Monday digest covers)."""
    return week_of(moment) - timedelta(days=7)


def format_period(week_start: date, language: str) -> str:
    """The localised Monday–Sunday period, e.g. "10–16 января 2022 г." (CLDR interval, full month names)."""
    end = week_start + timedelta(days=6)
    formats = Locale.parse(language).interval_formats["yMMMd"]
    if week_start.year != end.year:
        field = "y"
    elif week_start.month != end.month:
        field = "M"
    else:
        field = "d"
    full_months = [re.sub(r"(?<![ML])([ML])\1\1(?![ML])", r"\1\1\1\1", part) for part in formats[field]]
    return "".join(
        format_date(day, pattern, locale=language) for pattern, day in zip(full_months, (week_start, end), strict=True)
    )
