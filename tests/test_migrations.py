"""`newsletter db upgrade` on an empty database yields exactly the models' schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from newsletter import create_app
from newsletter.core.extensions import db
from newsletter.core.settings import settings_of
from newsletter.editions.plan import make_plan, publication_settings
from newsletter.models import Edition
from newsletter.models.delivery import compared_with_the_models, named_in_the_models


@pytest.fixture
def empty_database_url(backend, database_url, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = make_url(database_url)
    scratch = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{scratch}"'))
    yield url.set(database=scratch).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_head_on_empty_database_matches_the_models(empty_database_url, tmp_path):
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(tmp_path / "instance")})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": compared_with_the_models, "include_name": named_in_the_models}
            )
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        assert "deliveries" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_restoring_the_ledger_keys_mends_rows_the_keys_would_refuse(backend, empty_database_url, tmp_path):
    """0008 puts the keys back (and, on PostgreSQL, partitions the ledger): a row of an edition that is gone
    goes, a row of a subscriber who is gone is forgotten, every other row stays, and its downgrade keeps them."""
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(tmp_path / "instance")})
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    common = {"priority": 0, "attempts": 1, "status": "sent", "next_attempt_at": moment, "created_at": moment}
    rows = [
        dict(common, id=1, kind="digest", edition_id=99, subscriber_id=None, payload=b"x", last_reply="ok"),
        dict(
            common,
            id=2,
            kind="confirmation",
            edition_id=None,
            subscriber_id=98,
            payload=b"y",
            last_reply="250 ok <a@b.c>",
        ),
    ]
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO deliveries (id, kind, priority, edition_id, subscriber_id, payload, status, attempts, "
                    "next_attempt_at, created_at, last_reply) VALUES (:id, :kind, :priority, :edition_id, "
                    ":subscriber_id, :payload, :status, :attempts, :next_attempt_at, :created_at, :last_reply)"
                ),
                rows,
            )
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO editions (id, week_start, language, status, subject, html, text, "
                    "source_hash, article_count, built_at) VALUES (7, '2025-12-29', 'en', "
                    "'sending', 's', '', '', '', 1, :moment)"
                ),
                {"moment": moment},
            )
            connection.execute(
                text(
                    "INSERT INTO deliveries (id, kind, priority, edition_id, status, attempts, next_attempt_at, "
                    "created_at) VALUES (4, 'digest', 10, 7, 'queued', 0, :moment, :moment)"
                ),
                {"moment": moment},
            )
        upgrade()
        with db.engine.begin() as connection:  # a digest row from before the upgrade can still be sent
            connection.execute(text("UPDATE deliveries SET status = 'sent' WHERE id = 4"))
            connection.execute(text("DELETE FROM deliveries WHERE id = 4"))
        left = _ledger_rows()
        keys = {key["name"] for key in inspect(db.engine).get_foreign_keys("deliveries")}
        with db.engine.begin() as connection:
            added = connection.execute(
                text(
                    "INSERT INTO deliveries (kind, priority, status, attempts, next_attempt_at, created_at) "
                    "VALUES ('confirmation', 0, 'queued', 0, :moment, :moment) RETURNING id"
                ),
                {"moment": moment},
            ).scalar()
            partitioned = (
                backend == "postgresql"
                and connection.execute(text("SELECT count(*) FROM deliveries_single")).scalar() == 2
            )
        downgrade(revision="0007")
        after_downgrade = _ledger_rows()
        db.engine.dispose()
    assert left == [(2, None, None, None)]
    assert {"fk_deliveries_edition_id_editions", "fk_deliveries_subscriber_id_subscribers"} <= keys
    assert added > 2  # the sequence goes on after the rows moved
    assert partitioned or backend == "sqlite"
    assert after_downgrade == [(2, None, None, None), (added, None, None, None)]


def _ledger_rows() -> list[tuple]:
    with db.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("SELECT id, subscriber_id, payload, last_reply FROM deliveries ORDER BY id")
            )
        ]


def _revision_before(name: str) -> str:
    """The down_revision of a migration file (the lead relinks the chain when merging branches)."""
    source = (Path(__file__).resolve().parent.parent / "migrations" / "versions" / name).read_text()
    return re.search(r"^down_revision = ['\"]([^'\"]+)['\"]", source, re.MULTILINE).group(1)


def test_editorial_control_normalises_existing_urls_without_merging_articles(empty_database_url, tmp_path):
    before = _revision_before("0004_editorial_control.py")
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(tmp_path / "instance")})
    moment = datetime(2022, 1, 12, tzinfo=UTC)
    urls = [
        "https://Example.org/a/?utm_source=x",
        "https://example.org/b",
        "https://example.org/b/#top",
        "https://example.org/c?id=1&fbclid=z",
    ]
    rows = [
        {
            "id": i + 1,
            "language": "en",
            "section": "S",
            "title": "T",
            "summary": "S",
            "url": url,
            "published_at": moment,
            "created_at": moment,
            "updated_at": moment,
        }
        for i, url in enumerate(urls)
    ]
    with app.app_context():
        upgrade(revision=before)
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO articles (id, language, section, title, summary, url, published_at, created_at, "
                    "updated_at) VALUES (:id, :language, :section, :title, :summary, :url, :published_at, "
                    ":created_at, :updated_at)"
                ),
                rows,
            )
        upgrade()
        with db.engine.connect() as connection:
            stored = dict(connection.execute(text("SELECT id, url FROM articles")).all())
        downgrade(revision=before)
        db.engine.dispose()
    assert stored == {
        1: "https://example.org/a",
        2: "https://example.org/b",
        3: "https://example.org/b/#top",
        4: "https://example.org/c?id=1",
    }


STORY_MOMENT = datetime(2022, 1, 12, 9, 0, tzinfo=UTC)


def _article(connection, article_id: int, language: str, trend: str | None, hour: int) -> None:
    connection.execute(
        text(
            "INSERT INTO articles (id, language, section, title, summary, url, published_at, trend, created_at, "
            "updated_at) VALUES (:id, :language, 'Economy', :title, 'S.', :url, :published, :trend, :now, :now)"
        ),
        {
            "id": article_id,
            "language": language,
            "title": f"Article {article_id}",
            "url": f"https://example.org/{language}/{article_id}",
            "published": STORY_MOMENT.replace(hour=hour),
            "trend": trend,
            "now": STORY_MOMENT,
        },
    )


def _edition(connection, edition_id: int, language: str, lead: int | None, order: list | None, excluded: list):
    connection.execute(
        text(
            "INSERT INTO editions (id, week_start, language, status, subject, html, text, source_hash, "
            "article_count, built_at, lead_article_id, article_order, excluded_article_ids) VALUES (:id, "
            "'2022-01-10', :language, 'draft', 's', '', '', '', 1, :now, :lead, :order, :excluded)"
        ),
        {
            "id": edition_id,
            "language": language,
            "now": STORY_MOMENT,
            "lead": lead,
            "order": json.dumps(order) if order is not None else None,
            "excluded": json.dumps(excluded),
        },
    )


def test_the_upgrade_keeps_every_trend_order_lead_and_exclusion(empty_database_url, tmp_path):
    app = create_app({"DATABASE_URL": empty_database_url, "INSTANCE_PATH": str(tmp_path / "instance")})
    with app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as connection:
            for article_id, language, trend, hour in [
                (1, "ru", "worse", 8),
                (2, "ru", None, 9),
                (3, "ru", "better", 10),
                (4, "ru", "unchanged", 11),
                (5, "en", "worse", 8),
                (6, "en", None, 9),
            ]:
                _article(connection, article_id, language, trend, hour)
            _edition(connection, 1, "ru", lead=2, order=[4, 3, 1], excluded=[1])
            _edition(connection, 2, "en", lead=None, order=None, excluded=[6])
        upgrade()
        with db.engine.connect() as connection:
            stories = {
                row.id: (row.trend, row.position, row.lead, row.included)
                for row in connection.execute(text("SELECT id, trend, position, lead, included FROM stories"))
            }
            story_of = dict(connection.execute(text("SELECT id, story_id FROM articles")).all())
        assert {article: stories[story] for article, story in story_of.items()} == {
            1: ("worse", 2, False, False),
            2: (None, None, True, True),
            3: ("better", 1, False, True),
            4: ("unchanged", 0, False, True),
            5: ("worse", None, False, True),
            6: (None, None, False, False),
        }
        with app.test_request_context():
            ru = db.session.get(Edition, 1)
            plan = make_plan(ru, ru.week_start, "ru", publication_settings(settings_of(app).site, "ru"))
            assert plan.lead.id == 2 and [a.id for s in plan.sections for a in s.articles] == [4, 3]
            assert [a.trend for a in plan.articles] == [None, "unchanged", "better"]
            en = db.session.get(Edition, 2)
            plan = make_plan(en, en.week_start, "en", publication_settings(settings_of(app).site, "en"))
            assert [a.id for a in plan.articles] == [5]
            db.session.remove()
        downgrade(revision="0008")
        with db.engine.connect() as connection:
            trends = dict(connection.execute(text("SELECT id, trend FROM articles")).all())
            editions = {
                row.id: (row.lead_article_id, row.article_order, row.excluded_article_ids)
                for row in connection.execute(
                    text("SELECT id, lead_article_id, article_order, excluded_article_ids FROM editions")
                )
            }
        db.engine.dispose()
    assert trends == {1: "worse", 2: None, 3: "better", 4: "unchanged", 5: "worse", 6: None}
    decoded = {k: tuple(json.loads(v) if isinstance(v, str) else v for v in row) for k, row in editions.items()}
    assert decoded == {1: (2, [4, 3, 1], [1]), 2: (None, None, [6])}
