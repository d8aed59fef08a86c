"""Core fixtures: the app on SQLite or PostgreSQL (`--db`), a clean database per test, clients."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Config
from flask_migrate import stamp
from sqlalchemy import create_engine, text

from newsletter import create_app
from newsletter.core.extensions import db
from newsletter.core.settings import EXTENSION_KEY
from newsletter.delivery import partitions

pytest_plugins = [
    "fixtures.smtp",
    "fixtures.subscribers",
    "fixtures.content",
    "fixtures.delivery",
    "fixtures.postgres_cluster",
    "fixtures.bounces",
    "fixtures.console",
    "fixtures.browser",
]

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=["sqlite", "postgresql"], default="sqlite", help="database backend to test on")


def pytest_report_header(config: pytest.Config) -> str:
    backend = config.getoption("--db")
    where = os.environ.get("NEWSLETTER_TEST_DATABASE_URL", DEFAULT_PG_URL) if backend == "postgresql" else "file"
    return f"database backend: {backend} ({where})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (SKIP LOCKED, concurrent writers); runs under --db=postgresql")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    return pytestconfig.getoption("--db")


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the models' schema, created once for the session."""
    if backend == "postgresql":
        url = os.environ.get("NEWSLETTER_TEST_DATABASE_URL", DEFAULT_PG_URL)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    schema_app = create_app(_test_config(url, tmp_path_factory.mktemp("instance")))
    with schema_app.app_context():
        db.create_all()
        stamp()  # the models' schema is the migrations' head, as `newsletter db upgrade` leaves it
        db.engine.dispose()
    return url


def _test_config(database_url: str, instance: Path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key-of-at-least-32-bytes",
        "BASE_URL": "http://newsletter.test",
        "MAIL_FROM": "Belarus Weekly <newsletter@newsletter.test>",
        "WORKER_PROCESSES": 1,
    }


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict:
    """Configuration for one test's app; tests may change it before using `app`."""
    return _test_config(database_url, tmp_path / "instance")


class LiveConfig(Config):
    """A test's `app.config`: a change drops the settings built from it, so the next `settings_of` reads it again.

    The app factory reads the configuration once; tests that change `app.config` after creating the app expect
    the change to take effect, as a new app created with that configuration would see it.
    """

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._drop_settings()

    def update(self, *args, **kwargs):
        super().update(*args, **kwargs)
        self._drop_settings()

    def _drop_settings(self) -> None:
        self.extensions.pop(EXTENSION_KEY, None)


def live_config(app):
    """Let changes to this app's config after creation reach its settings (see LiveConfig)."""
    app.config.__class__ = LiveConfig
    app.config.extensions = app.extensions
    return app


@pytest.fixture
def app(app_config: dict):
    app = live_config(create_app(app_config))
    with app.app_context():
        _empty_all_tables()
        yield app
        db.session.remove()
        db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for partition in partitions.edition_partitions():
            db.session.execute(text(f"DROP TABLE {partition}"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def outbox(app) -> Path:
    """The file transport's folder of .eml files."""
    return Path(app.config["OUTBOX_DIR"])
