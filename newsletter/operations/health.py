"""Is this installation usable? The start-up checks of `serve`, `worker` and `scheduler`, and /healthz's.

A failed check is one line that says what is wrong and what to do, never a traceback: the configuration
(the SMTP URL's form included), a database that answers, and a schema at the migrations' head.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alembic.script import ScriptDirectory
from flask_babel import gettext as _
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from newsletter.core.config import PROJECT_ROOT
from newsletter.core.extensions import db
from newsletter.core.settings import SmtpSettings
from newsletter.models import Edition

SMTP_QUERY_KEYS = ("starttls", "verify")
VERSION_TABLE = "alembic_version"


class NotReady(RuntimeError):
    """One line naming the problem and the fix."""


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads())


def check_smtp_url(url: str | None) -> None:
    """The form of NEWSLETTER_SMTP_URL: scheme, host, a numeric port, known options."""
    if not url:
        return
    try:
        SmtpSettings.from_url(url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError as error:
        raise NotReady(
            _(
                "invalid SMTP settings: NEWSLETTER_SMTP_URL is not usable (%(error)s); expected "
                "smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465",
                error=error,
            )
        ) from None
    unknown = sorted(set(parse_qs(parts.query)) - set(SMTP_QUERY_KEYS))
    if unknown:
        raise NotReady(
            _(
                "invalid SMTP settings: NEWSLETTER_SMTP_URL has unknown option(s) %(unknown)s; known: %(known)s",
                unknown=", ".join(unknown),
                known=", ".join(SMTP_QUERY_KEYS),
            )
        )


def check_database() -> None:
    """The database answers and its schema is at the migrations' head."""
    try:
        with db.engine.connect() as connection:
            current: frozenset[str] = frozenset()
            if inspect(connection).has_table(VERSION_TABLE):
                current = frozenset(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0][:200]
        raise NotReady(
            _("the database does not answer (%(reason)s); check NEWSLETTER_DATABASE_URL", reason=reason)
        ) from None
    head = ", ".join(sorted(head_revisions()))
    if not current:
        raise NotReady(
            _("the database schema is not migrated, not at %(head)s: run `newsletter db upgrade`", head=head)
        )
    if current != head_revisions():
        raise NotReady(
            _(
                "the database schema is at %(current)s, not at %(head)s: run `newsletter db upgrade`",
                current=", ".join(sorted(current)),
                head=head,
            )
        )


def check_startup(config: Mapping[str, Any]) -> None:
    """Everything a long-running process needs before it starts (raises NotReady)."""
    check_smtp_url(config.get("SMTP_URL"))
    check_database()


def paused_editions() -> list[dict[str, Any]]:
    """Editions paused now and why (a burst of reports about us, the circuit breaker, an editor), for /readyz."""
    rows = db.session.execute(
        select(Edition.id, Edition.language, Edition.paused_reason)
        .where(Edition.status == "paused")
        .order_by(Edition.id)
    )
    return [{"edition": edition_id, "language": language, "reason": reason} for edition_id, language, reason in rows]
