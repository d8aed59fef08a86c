"""Editions: one per (week, language), built, shaped by an editor, scheduled and sent.

The service the API, the CLI, the web console and the scheduler share. States and transitions are in
`newsletter.models.lifecycle`; this package re-exports what callers need.
"""

from __future__ import annotations

from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.editions.building import (
    BuildFailed,
    WeekBuild,
    build_edition,
    build_week,
    build_week_report,
    is_stale,
    rebuild_if_stale,
)
from newsletter.editions.control import (
    NothingToSend,
    cancel_edition,
    current,
    get_edition,
    pause_edition,
    preview_html,
    preview_text,
    reopen_edition,
    resume_edition,
    retry_failed,
    send_edition,
    send_test,
    set_published,
)
from newsletter.editions.editorial import (
    EditionInvalid,
    exclude_article,
    include_article,
    set_intro,
    set_lead_article,
    set_order,
    set_preheader,
    set_subject,
    update_editorial,
)
from newsletter.editions.plan import TEMPLATE_VERSION, week_articles
from newsletter.editions.scheduling import (
    BadSendTime,
    as_aware,
    due_scheduled_editions,
    is_overdue,
    overdue_editions,
    parse_send_time,
    schedule_edition,
    shown_time,
    unschedule_edition,
)
from newsletter.models import Edition
from newsletter.models.lifecycle import EditionConflict

__all__ = [
    "BadSendTime",
    "BuildFailed",
    "EditionConflict",
    "EditionInvalid",
    "NothingToSend",
    "TEMPLATE_VERSION",
    "WeekBuild",
    "as_aware",
    "build_edition",
    "build_week",
    "build_week_report",
    "cancel_edition",
    "current",
    "due_scheduled_editions",
    "exclude_article",
    "get_edition",
    "include_article",
    "is_overdue",
    "is_stale",
    "list_editions",
    "overdue_editions",
    "parse_send_time",
    "pause_edition",
    "preview_html",
    "preview_text",
    "rebuild_if_stale",
    "reopen_edition",
    "resume_edition",
    "retry_failed",
    "schedule_edition",
    "send_edition",
    "send_test",
    "set_intro",
    "set_lead_article",
    "set_order",
    "set_preheader",
    "set_published",
    "set_subject",
    "shown_time",
    "unschedule_edition",
    "update_editorial",
    "week_articles",
]


def list_editions(language: str | None = None, status: str | None = None) -> list[Edition]:
    query = select(Edition).order_by(Edition.week_start.desc(), Edition.language)
    if language:
        query = query.where(Edition.language == language)
    if status:
        query = query.where(Edition.status == status)
    return list(db.session.scalars(query))
