"""Moving a list in and out: CSV import (as confirmed, with an import consent record) and export."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.delivery import ledger
from newsletter.models import BounceEvent, Subscriber, SubscriberLanguage, utcnow
from newsletter.models.subscribers import CONFIRMED, UNSUBSCRIBED
from newsletter.subscribers import suppression
from newsletter.subscribers.consent import IMPORT, RequestOrigin, record_confirmation, record_request

IMPORT_TEXT_VERSION = "import"
EXPORT_COLUMNS = ["email", "languages", "confirmed_at"]
COMMIT_EVERY = 500
FORMULA_STARTS = ("=", "+", "-", "@")
ESCAPE = "'"


UNSUBSCRIBED_SKIP = "skipped: unsubscribed"
SUPPRESSED_SKIP = "skipped: suppressed"
SKIP_REASONS = {
    UNSUBSCRIBED_SKIP: "this address unsubscribed; it is not subscribed again",
    SUPPRESSED_SKIP: "this address is on the suppression list (bounced or complained); it is not subscribed again",
}


class ImportFormatError(ValueError):
    """The file as a whole cannot be read as the import format."""


class RowError(ValueError):
    """One row is unusable; the message says why."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def neutralise_formula(cell: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula (or one that starts with the prefix) with `'`."""
    return ESCAPE + cell if cell.startswith(FORMULA_STARTS + (ESCAPE,)) else cell


def restore_formula(cell: str) -> str:
    """Undo neutralise_formula, so an export imports back unchanged."""
    if cell.startswith(ESCAPE) and cell[1:].startswith(FORMULA_STARTS + (ESCAPE,)):
        return cell[1:]
    return cell


def parse_languages(raw: str | None) -> list[str]:
    codes = [code for code in re.split(r"[|\s,]+", (raw or "").strip().lower()) if code]
    if not codes:
        raise RowError("no languages given")
    unknown = [code for code in codes if code not in LANGUAGES]
    if unknown:
        raise RowError(f"unknown language {unknown[0]!r} (use be, ru, en)")
    return [code for code in LANGUAGES if code in codes]


def parse_confirmed_at(raw: str | None) -> datetime | None:
    """An ISO 8601 date or time; a time without a zone is taken as UTC."""
    if not raw or not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise RowError(f"confirmed_at {raw.strip()!r} is not an ISO 8601 date or time in range") from error
    if moment > utcnow():
        raise RowError("confirmed_at is in the future")
    return moment


def import_csv(stream: TextIO, source_name: str, settings: Settings) -> ImportReport:
    """Import every good row; bad rows are reported by line number and leave nothing behind."""
    reader = csv.DictReader(stream)
    try:
        columns = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as error:
        raise ImportFormatError(f"line 1: {error}") from error
    if "email" not in columns or "languages" not in columns:
        raise ImportFormatError(
            "line 1: the header must name the columns email and languages (and optionally confirmed_at)"
        )
    reader.fieldnames = columns
    report = ImportReport()
    for row in _readable_rows(reader, report):
        _import_row(row, reader.line_num, source_name, report, settings)
        if reader.line_num % COMMIT_EVERY == 0:
            db.session.commit()
    db.session.commit()
    return report


def _readable_rows(reader: csv.DictReader[str], report: ImportReport) -> Iterator[dict[str, str]]:
    """The rows the csv module can read; an unreadable line is reported and the next one read.

    The reader counts a line only once it has read it whole, so the unreadable one is the line after.
    """
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            report.errors.append((reader.line_num + 1, f"unreadable CSV: {error}"))


def _import_row(row: dict[str, str], line: int, source_name: str, report: ImportReport, settings: Settings) -> None:
    if None in row or any(value is None for value in row.values()):
        report.errors.append((line, "wrong number of columns"))
        return
    row = {name: restore_formula(value) for name, value in row.items()}
    status = (row.get("status") or "").strip().lower()
    if status and status != CONFIRMED:
        report.skipped.append((line, f"status is {status}"))
        return
    try:
        address = normalise_address(row["email"], smtp_utf8=settings.mail.smtp_utf8)
        languages = parse_languages(row["languages"])
        confirmed_at = parse_confirmed_at(row.get("confirmed_at"))
    except InvalidAddress as error:
        report.errors.append((line, f"email: {error}"))
        return
    except RowError as error:
        report.errors.append((line, str(error)))
        return
    outcome = _import_subscriber(address, languages, confirmed_at, source_name, settings.site.secret_key)
    if outcome in SKIP_REASONS:
        report.skipped.append((line, SKIP_REASONS[outcome]))
    else:
        setattr(report, outcome, getattr(report, outcome) + 1)


def _import_subscriber(
    address: str, languages: list[str], confirmed_at: datetime | None, source_name: str, secret: str
) -> str:
    """Add or update one subscriber; an unsubscribed or suppressed address is never subscribed again."""
    if suppression.is_suppressed(address, secret, smtp_utf8=True):  # normalised by the import already
        return SUPPRESSED_SKIP
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    when = confirmed_at or utcnow()
    outcome = "updated"
    if subscriber is None:  # perhaps an erased person back, whose suppression entry is a hash
        suppression.recognise(address, secret)
        subscriber = Subscriber(email=address, locale=languages[0], created_at=utcnow())
        db.session.add(subscriber)
        outcome = "added"
    elif subscriber.status == UNSUBSCRIBED:
        return UNSUBSCRIBED_SKIP
    missing = [code for code in languages if code not in subscriber.confirmed_languages]
    if subscriber.status == CONFIRMED and not missing:
        return "unchanged"
    subscriber.status = CONFIRMED
    subscriber.confirmed_at = subscriber.confirmed_at or when
    present = {row.language: row for row in subscriber.languages}
    for code in missing:
        if code in present:
            present[code].confirmed_at = when
        else:
            subscriber.languages.append(SubscriberLanguage(language=code, requested_at=when, confirmed_at=when))
    consent = record_request(subscriber, missing, RequestOrigin(IMPORT, source_name), IMPORT_TEXT_VERSION)
    consent.requested_at = when
    record_confirmation(consent, None, None)
    consent.confirmed_at = when
    db.session.flush()
    return outcome


def export_rows(include_all: bool = False) -> Iterator[list[str]]:
    """The header, then one row per subscriber (confirmed ones only unless include_all)."""
    yield EXPORT_COLUMNS + (["status"] if include_all else [])
    query = select(Subscriber).options(selectinload(Subscriber.languages)).order_by(Subscriber.id)
    if not include_all:
        query = query.where(Subscriber.status == CONFIRMED)
    for subscriber in db.session.scalars(query.execution_options(yield_per=500)):
        languages = subscriber.confirmed_languages if not include_all else [r.language for r in subscriber.languages]
        confirmed = subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else ""
        row = [subscriber.email, "|".join(languages), confirmed]
        yield row + ([subscriber.status] if include_all else [])


def write_csv(stream: TextIO, include_all: bool = False) -> int:
    """Write the export to `stream`; returns the number of subscribers written."""
    writer = csv.writer(stream, lineterminator="\n")
    rows = export_rows(include_all)
    writer.writerow(next(rows))
    written = 0
    for row in rows:
        writer.writerow([neutralise_formula(cell) for cell in row])
        written += 1
    return written


def erase_subscriber(subscriber: Subscriber, secret: str) -> None:
    """Erasure on request: the subscriber, languages and consents go; deliveries keep no address or reference.

    A queued transactional row left behind is cancelled by the worker (its subscriber is gone).
    """
    ledger.forget_subscribers(select(Subscriber.id).where(Subscriber.id == subscriber.id))
    db.session.execute(
        delete(BounceEvent).where(BounceEvent.subscriber_id == subscriber.id)
    )  # reports name the address
    suppression.forget_address(subscriber.email, secret)
    db.session.delete(subscriber)
    db.session.commit()


def find_subscriber(raw_address: object, *, smtp_utf8: bool) -> Subscriber | None:
    """The subscriber with this address (normalised first); None for unknown or invalid addresses."""
    try:
        address = normalise_address(raw_address, smtp_utf8=smtp_utf8)
    except InvalidAddress:
        return None
    return db.session.scalar(select(Subscriber).where(Subscriber.email == address))


def get_subscriber(subscriber_id: int) -> Subscriber | None:
    return db.session.get(Subscriber, subscriber_id)
