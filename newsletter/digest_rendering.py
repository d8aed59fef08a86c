"""Rendering an edition once: Jinja -> MJML -> HTML, a plain-text part, and the subject.

Personal links are left as the placeholders below; delivery fills them in per recipient.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .models import Article
from .rendering import render_email
from .weeks import format_period

UNSUBSCRIBE_PLACEHOLDER = "__UNSUBSCRIBE_URL__"
PREFERENCES_PLACEHOLDER = "__PREFERENCES_URL__"


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Section:
    name: str
    articles: list[Article]


def group_by_section(articles: list[Article]) -> list[Section]:
    """Sections in the order they were first added (lowest article id), articles by publication time."""
    ordered = sorted(articles, key=lambda a: (a.published_at, a.id or 0))
    first_seen: dict[str, int] = {}
    for article in articles:
        first_seen[article.section] = min(first_seen.get(article.section, article.id or 0), article.id or 0)
    names = sorted(first_seen, key=lambda name: (first_seen[name], name))
    return [Section(name, [a for a in ordered if a.section == name]) for name in names]


def archive_url(language: str, week_start: date) -> str:
    return f"{current_app.config['BASE_URL']}/archive/{language}/{week_start.isoformat()}"


def digest_subject(language: str, week_start: date) -> str:
    with force_locale(language):
        return _("%(publication)s: the week of %(period)s",
                 publication=current_app.config["PUBLICATION_NAME"], period=format_period(week_start, language))


def render_digest(language: str, week_start: date, articles: list[Article]) -> RenderedDigest:
    """Render one language's digest for a week (in that language, whatever the request's locale)."""
    with force_locale(language):
        context = {
            "language": language,
            "publication": current_app.config["PUBLICATION_NAME"],
            "period": format_period(week_start, language),
            "sections": group_by_section(articles),
            "web_view_url": archive_url(language, week_start),
            "subscribe_url": f"{current_app.config['BASE_URL']}/subscribe?lang={language}",
            "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
            "preferences_url": PREFERENCES_PLACEHOLDER,
        }
        html, text = render_email("digest", **context)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return RenderedDigest(subject=digest_subject(language, week_start), html=html, text=text)
