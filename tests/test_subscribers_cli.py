"""`newsletter subscribers import | export | purge-pending`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import time_machine
from fixtures.subscribers import snapshot
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.models import Consent, Subscriber, utcnow
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED

GOOD_AND_BAD = (
    "email,languages,confirmed_at\n"
    "one@example.org,ru|en,2024-03-01T10:00:00+01:00\n"
    "not-an-address,en,\n"
    "two@Example.ORG,be en,\n"
    "three@example.org,de,\n"
    "four@example.org,,\n"
    "five@example.org,en,yesterday\n"
    "six@example.org,en\n"
    "seven@example.org,ru,2024-01-01\n"
)


def write(tmp_path, text: str, name: str = "list.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def subscribers() -> dict[str, Subscriber]:
    db.session.expire_all()
    return {row.email: row for row in db.session.scalars(select(Subscriber))}


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(runner, tmp_path):
    result = runner.invoke(args=["subscribers", "import", write(tmp_path, GOOD_AND_BAD)])
    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated, 0 unchanged, 0 skipped, 5 rejected" in result.stdout
    for line, reason in [
        (3, "email"),
        (5, "unknown language 'de'"),
        (6, "no languages"),
        (7, "confirmed_at"),
        (8, "columns"),
    ]:
        assert f"line {line}: rejected: " in result.stderr and reason in result.stderr
    rows = subscribers()
    assert sorted(rows) == ["one@example.org", "seven@example.org", "two@example.org"]
    one = rows["one@example.org"]
    assert one.status == CONFIRMED and one.confirmed_languages == ["en", "ru"]
    assert one.confirmed_at == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert rows["seven@example.org"].confirmed_at == datetime(2024, 1, 1, tzinfo=UTC)
    consent = one.consents[0]
    assert consent.source == "import" and consent.source_page == "list.csv" and consent.confirmed_at == one.confirmed_at


def test_import_reports_out_of_range_dates_by_line_and_keeps_good_rows(runner, tmp_path):
    text = (
        "email,languages,confirmed_at\n"
        "early@example.org,en,0001-01-01T00:00:00+05:00\n"
        "good@example.org,en,2024-01-01\n"
        "late@example.org,en,9999-12-31T23:00:00-05:00\n"
    )
    result = runner.invoke(args=["subscribers", "import", write(tmp_path, text)])
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "1 added, 0 updated, 0 unchanged, 0 skipped, 2 rejected" in result.stdout
    assert "line 2: rejected: confirmed_at" in result.stderr and "line 4: rejected: confirmed_at" in result.stderr
    assert sorted(subscribers()) == ["good@example.org"]


def test_an_unreadable_line_is_reported_and_the_lines_after_it_still_imported(runner, tmp_path):
    oversized = "x" * (csv.field_size_limit() + 1)
    text = f"email,languages\nbefore@example.org,en\n{oversized}@example.org,en\nafter@example.org,ru\n"
    result = runner.invoke(args=["subscribers", "import", write(tmp_path, text)])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 0 skipped, 1 rejected" in result.stdout
    assert "line 3: rejected: unreadable CSV" in result.stderr
    assert sorted(subscribers()) == ["after@example.org", "before@example.org"]


def test_import_is_idempotent(runner, tmp_path):
    path = write(tmp_path, GOOD_AND_BAD)
    runner.invoke(args=["subscribers", "import", path])
    before = snapshot()
    result = runner.invoke(args=["subscribers", "import", path])
    assert "0 added, 0 updated, 3 unchanged" in result.stdout
    assert snapshot() == before


def test_import_adds_languages_confirms_pending_and_respects_unsubscribes(runner, tmp_path, add_subscriber):
    add_subscriber("known@example.org", ["en"])
    add_subscriber("waiting@example.org", ["ru"], status=PENDING)
    add_subscriber("left@example.org", [], status=UNSUBSCRIBED)
    text = "email,languages\nknown@example.org,en|be\nwaiting@example.org,ru\nleft@example.org,en\n"
    result = runner.invoke(args=["subscribers", "import", write(tmp_path, text)])
    assert "0 added, 2 updated, 0 unchanged, 1 skipped, 0 rejected" in result.stdout
    assert "line 4: skipped" in result.stderr
    rows = subscribers()
    assert rows["known@example.org"].confirmed_languages == ["be", "en"]
    assert rows["waiting@example.org"].status == CONFIRMED and rows["waiting@example.org"].confirmed_languages == ["ru"]
    assert rows["left@example.org"].status == UNSUBSCRIBED


def test_import_refuses_a_file_without_the_columns(runner, tmp_path):
    result = runner.invoke(args=["subscribers", "import", write(tmp_path, "address;langs\na@example.org;en\n")])
    assert result.exit_code == 1 and "line 1" in result.output
    assert subscribers() == {}


def test_import_refuses_a_file_that_is_not_utf8(runner, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,languages\nj\xe9r\xf4me@example.org,en\n".encode("latin-1"))
    result = runner.invoke(args=["subscribers", "import", str(path)])
    assert result.exit_code == 1 and "UTF-8" in result.output
    assert subscribers() == {}


def test_strict_import_fails_when_a_row_was_rejected(runner, tmp_path):
    result = runner.invoke(args=["subscribers", "import", "--strict", write(tmp_path, GOOD_AND_BAD)])
    assert result.exit_code == 1 and len(subscribers()) == 3


def test_export_round_trips_through_import(runner, tmp_path, add_subscriber):
    add_subscriber("a@example.org", ["ru", "en"], confirmed_at=datetime(2024, 5, 1, tzinfo=UTC))
    add_subscriber("b@example.org", ["be"], status=PENDING)
    add_subscriber("c@example.org", [], status=UNSUBSCRIBED)
    result = runner.invoke(args=["subscribers", "export"])
    assert result.exit_code == 0
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["email", "languages", "confirmed_at"],
        ["a@example.org", "en|ru", "2024-05-01T00:00:00+00:00"],
    ]
    everything = runner.invoke(args=["subscribers", "export", "--all"]).stdout
    assert (
        everything.splitlines()[0] == "email,languages,confirmed_at,status"
        and "c@example.org,,,unsubscribed" in everything
    )
    exported = write(tmp_path, everything, "all.csv")
    before = snapshot()
    result = runner.invoke(args=["subscribers", "import", exported])
    assert "0 added, 0 updated, 1 unchanged, 2 skipped" in result.stdout
    assert snapshot() == before


def test_export_neutralises_spreadsheet_formulas_and_import_restores_them(runner, tmp_path, add_subscriber):
    risky = ["=cmd@example.org", "+sum@example.org", "-x@example.org", "'quote@example.org"]
    for address in risky:
        add_subscriber(address, ["en"], confirmed_at=datetime(2024, 5, 1, tzinfo=UTC))
    add_subscriber("plain@example.org", ["en"], confirmed_at=datetime(2024, 5, 1, tzinfo=UTC))
    exported = runner.invoke(args=["subscribers", "export"]).stdout
    cells = [row[0] for row in csv.reader(io.StringIO(exported))][1:]
    assert sorted(cells) == sorted(
        ["'=cmd@example.org", "'+sum@example.org", "'-x@example.org", "''quote@example.org", "plain@example.org"]
    )
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    path = write(tmp_path, exported, "export.csv")
    before = snapshot()
    result = runner.invoke(args=["subscribers", "import", path])
    assert "0 added, 0 updated, 5 unchanged, 0 skipped, 0 rejected" in result.stdout, result.output
    assert snapshot() == before
    for row in db.session.scalars(select(Subscriber)):
        db.session.delete(row)
    db.session.commit()
    assert "5 added" in runner.invoke(args=["subscribers", "import", path]).stdout
    assert sorted(subscribers()) == sorted(risky + ["plain@example.org"])


def test_purge_pending_command(runner, client):
    client.post("/api/v1/subscriptions", json={"email": "stale@example.org", "languages": ["en"]})
    with time_machine.travel(utcnow() + timedelta(days=8)):
        result = runner.invoke(args=["subscribers", "purge-pending"])
    assert result.exit_code == 0 and "1 unconfirmed subscribers" in result.output
    assert subscribers() == {} and db.session.scalar(select(Consent)) is None
    again = runner.invoke(args=["subscribers", "purge-pending"])
    assert "0 unconfirmed subscribers" in again.output
