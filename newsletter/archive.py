"""The public archive: editions that went out, without any personal link.

Which states are public is the lifecycle's PUBLISH rule: an edition stays once any copy was delivered, even
if the rest of its send was cancelled, so delivered web-view links keep working; an editor can unpublish one.
"""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from .digest_rendering import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from .extensions import db
from .models import Edition
from .lifecycle import Action, condition


def _public():
    return condition(Action.PUBLISH) & Edition.unpublished_at.is_(None)


def public_editions(language: str | None = None, limit: int = 200, offset: int = 0) -> list[Edition]:
    query = select(Edition).where(_public())
    if language:
        query = query.where(Edition.language == language)
    order = (Edition.week_start.desc(), Edition.language)
    return list(db.session.scalars(query.order_by(*order).limit(limit).offset(offset)))


def public_edition(language: str, week_start: date) -> Edition | None:
    return db.session.scalar(
        select(Edition).where(Edition.language == language, Edition.week_start == week_start, _public())
    )


def _without_personal_links(content: str, language: str) -> str:
    subscribe = f"{current_app.config['BASE_URL']}/subscribe?lang={language}"
    return content.replace(UNSUBSCRIBE_PLACEHOLDER, subscribe).replace(PREFERENCES_PLACEHOLDER, subscribe)


def public_html(edition: Edition) -> str:
    """The stored HTML with the personal-link placeholders pointing at the subscribe page."""
    return _without_personal_links(edition.html, edition.language)


def public_text(edition: Edition) -> str:
    return _without_personal_links(edition.text, edition.language)
