"""The public archive: editions that went out, as web pages of their own, without any personal link.

Which states are public is the lifecycle's PUBLISH rule: an edition stays once any copy was delivered, even
if the rest of its send was cancelled, so delivered web-view links keep working; an editor can unpublish one.
The page is rendered from what the edition stored when it was built (`Edition.contents`), so it shows what
readers received; editions built before that was stored fall back to the email's own HTML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, select

from newsletter.core.extensions import db
from newsletter.core.settings import settings_of
from newsletter.delivery.placeholders import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from newsletter.editions.plan import publication_settings
from newsletter.editions.rendering import template_context
from newsletter.models import Edition
from newsletter.models.lifecycle import Action, condition

PAGE_SIZE = 20


@dataclass(frozen=True)
class ArchivePage:
    editions: list[Edition]
    page: int
    pages: int


def _public() -> ColumnElement[bool]:
    return condition(Action.PUBLISH) & Edition.unpublished_at.is_(None)


def public_editions(language: str | None = None, limit: int = 200, offset: int = 0) -> list[Edition]:
    query = select(Edition).where(_public())
    if language:
        query = query.where(Edition.language == language)
    order = (Edition.week_start.desc(), Edition.language)
    return list(db.session.scalars(query.order_by(*order).limit(limit).offset(offset)))


def archive_page(language: str | None, page: int) -> ArchivePage:
    """One page of the archive (newest first); a page past the end is the last one."""
    query = select(func.count()).select_from(Edition).where(_public())
    if language:
        query = query.where(Edition.language == language)
    pages = max(1, -(-int(db.session.scalar(query) or 0) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return ArchivePage(public_editions(language, PAGE_SIZE, (page - 1) * PAGE_SIZE), page, pages)


def public_edition(language: str, week_start: date) -> Edition | None:
    return db.session.scalar(
        select(Edition).where(Edition.language == language, Edition.week_start == week_start, _public())
    )


def same_week_languages(edition: Edition) -> list[str]:
    """The other languages in which the same week is public."""
    return list(
        db.session.scalars(
            select(Edition.language)
            .where(Edition.week_start == edition.week_start, Edition.id != edition.id, _public())
            .order_by(Edition.language)
        )
    )


def titles(edition: Edition) -> list[str]:
    """The article titles of an edition in reading order (empty for editions built before titles were kept)."""
    contents = edition.contents or {}
    lead = [contents["lead"]["title"]] if contents.get("lead") else []
    return lead + [a["title"] for s in contents.get("sections", []) for a in s["articles"]]


def page_context(edition: Edition) -> dict[str, Any] | None:
    """What the edition's archive page shows, or None for an edition without stored contents."""
    if not edition.contents:
        return None
    publication = publication_settings(settings_of(current_app).site, edition.language)
    return {
        **template_context(edition.contents, edition.language, edition.week_start, publication),
        "edition": edition,
        "subject": edition.subject,
        "other_languages": same_week_languages(edition),
    }


def published_at(edition: Edition) -> datetime:
    """A stable time for feeds: when its send started (it never changes afterwards)."""
    return edition.send_started_at or edition.built_at


def etag(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _without_personal_links(content: str, language: str) -> str:
    subscribe = f"{settings_of(current_app).site.base_url}/subscribe?lang={language}"
    return content.replace(UNSUBSCRIBE_PLACEHOLDER, subscribe).replace(PREFERENCES_PLACEHOLDER, subscribe)


def public_html(edition: Edition) -> str:
    """The stored HTML with the personal-link placeholders pointing at the subscribe page."""
    return _without_personal_links(edition.html, edition.language)


def public_text(edition: Edition) -> str:
    return _without_personal_links(edition.text, edition.language)
