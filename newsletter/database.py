"""Database setup: the engine's per-backend settings and the migrations directory."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import PROJECT_ROOT
from .extensions import db, migrate


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    from . import models  # noqa: F401  (register the tables)

    is_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    options = {"pool_pre_ping": True}
    if is_sqlite:
        options["connect_args"] = {"timeout": 30}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    if is_sqlite:
        with app.app_context():
            event.listen(db.engine, "connect", _tune_sqlite)


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


__all__ = ["db", "init_app", "is_postgres", "Engine"]
