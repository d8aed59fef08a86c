"""The public archive: editions that went out, without any personal link."""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from .digest_rendering import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from .extensions import db
from .models import Edition
from .models.content import EditionStatus

PUBLIC_STATUSES = (EditionStatus.SENDING, EditionStatus.PAUSED, EditionStatus.SENT)


def public_editions(language: str | None = None, limit: int = 200) -> list[Edition]:
    query = select(Edition).where(Edition.status.in_(PUBLIC_STATUSES))
    if language:
        query = query.where(Edition.language == language)
    return list(db.session.scalars(query.order_by(Edition.week_start.desc(), Edition.language).limit(limit)))


def public_edition(language: str, week_start: date) -> Edition | None:
    return db.session.scalar(
        select(Edition).where(
            Edition.language == language, Edition.week_start == week_start, Edition.status.in_(PUBLIC_STATUSES)
        )
    )


def _without_personal_links(content: str, language: str) -> str:
    subscribe = f"{current_app.config['BASE_URL']}/subscribe?lang={language}"
    return content.replace(UNSUBSCRIBE_PLACEHOLDER, subscribe).replace(PREFERENCES_PLACEHOLDER, subscribe)


def public_html(edition: Edition) -> str:
    """The stored HTML with the personal-link placeholders pointing at the subscribe page."""
    return _without_personal_links(edition.html, edition.language)


def public_text(edition: Edition) -> str:
    return _without_personal_links(edition.text, edition.language)
