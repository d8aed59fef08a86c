"""Database setup: the engine's per-backend settings and the migrations directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from flask import Flask
from sqlalchemy import BigInteger, any_, bindparam, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine, ExceptionContext, Result
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

if TYPE_CHECKING:
    from sqlalchemy.sql._typing import _DMLTableArgument  # what insert() takes: a table or a mapped class

from newsletter.core.config import PROJECT_ROOT
from newsletter.core.extensions import db, migrate


def _tune_sqlite(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _hide_server_detail(context: ExceptionContext) -> None:
    """PostgreSQL repeats the offending values (addresses) in an error's DETAIL; keep only its primary message."""
    error, wrapped = context.original_exception, context.sqlalchemy_exception
    detail = getattr(getattr(error, "diag", None), "message_detail", None)
    if not detail:
        return
    error.args = tuple(str(arg).replace(detail, "(detail hidden)") for arg in error.args)
    if wrapped is not None and wrapped.args:
        wrapped.args = (str(wrapped.args[0]).replace(detail, "(detail hidden)"), *wrapped.args[1:])


def init_app(app: Flask) -> None:
    is_sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    options: dict[str, Any] = {"pool_pre_ping": True}
    if is_sqlite:
        options["connect_args"] = {"timeout": 30}
    else:  # a worker keeps one per sender (its send gate), one for its recorder and one for its own session
        options["pool_size"] = max(5, int(app.config.get("SMTP_CONNECTIONS") or 1) + 3)
        options["connect_args"] = dict(TCP_KEEPALIVE)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("hide_parameters", True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    with app.app_context():
        if is_sqlite:
            event.listen(db.engine, "connect", _tune_sqlite)
        else:
            event.listen(db.engine, "handle_error", _hide_server_detail)


# A peer that vanished (a cut link, a host gone) is noticed on an idle connection after about 10 + 3 × 3 s of
# silence, and a request the server never acknowledged fails after 20 s, instead of the kernel's two hours.
TCP_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}


def bound_sessions(
    engine: Engine, *, lock_timeout: float, statement_timeout: float, idle_in_transaction: float
) -> None:
    """Every new connection of `engine` (PostgreSQL) gets these limits in seconds, and open ones are replaced:
    a statement waits at most `lock_timeout` for a lock and runs at most `statement_timeout`, and the server
    ends a session left idle in a transaction for `idle_in_transaction` (a frozen or cut-off worker's), so its
    row locks are let go. For long-running workers; the web keeps the server's defaults."""
    if engine.dialect.name != "postgresql":
        return
    settings = (
        f"SET lock_timeout = '{int(lock_timeout * 1000)}ms'; "
        f"SET statement_timeout = '{int(statement_timeout * 1000)}ms'; "
        f"SET idle_in_transaction_session_timeout = '{int(idle_in_transaction * 1000)}ms'; "
        # the server's side of the same keepalives: it ends the session of a host that vanished (a cut link)
        # and lets go of its locks, session-level advisory locks of the send gate included
        f"SET tcp_keepalives_idle = {TCP_KEEPALIVE['keepalives_idle']}; "
        f"SET tcp_keepalives_interval = {TCP_KEEPALIVE['keepalives_interval']}; "
        f"SET tcp_keepalives_count = {TCP_KEEPALIVE['keepalives_count']}; "
        f"SET tcp_user_timeout = {TCP_KEEPALIVE['tcp_user_timeout']}"
    )

    def bound(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(settings)
        cursor.close()
        dbapi_connection.commit()

    event.listen(engine, "connect", bound)
    engine.dispose()  # connections opened before are closed, not used again


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


ID_CHUNK = 500


def id_chunks(ids: list[int], size: int = ID_CHUNK) -> Iterator[list[int]]:
    """Slices of an id list small enough for one `IN (…)` (SQLite allows a few hundred variables per query)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def among(column: QueryableAttribute[int] | ColumnElement[int], ids: list[int]) -> ColumnElement[bool]:
    """`column IN ids`, for a batch of a few hundred ids: on PostgreSQL `= ANY` of one array parameter. An
    expanding IN renders a placeholder with its type cast per id at every execution, and the claim and load
    of a batch of 200 spent a third of the worker's main thread doing so."""
    if is_postgres():
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(BigInteger)))
    return column.in_(ids)


def dialect_insert(table: _DMLTableArgument) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the database's dialect, so it offers `on_conflict_do_nothing/update`."""
    return postgresql.insert(table) if is_postgres() else sqlite.insert(table)


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT touched (`Session.execute` is typed as returning any result)."""
    return cast(CursorResult[Any], result).rowcount


__all__ = [
    "affected_rows",
    "among",
    "bound_sessions",
    "db",
    "dialect_insert",
    "id_chunks",
    "init_app",
    "is_postgres",
    "Engine",
]
