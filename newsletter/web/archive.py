"""Public archive pages and the per-language Atom feed."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, make_response, render_template

from .. import archive
from ..config import LANGUAGES
from ..models import utcnow

blueprint = Blueprint("archive", __name__, url_prefix="/archive")

EDITION_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _language_or_404(language: str) -> str:
    if language not in LANGUAGES:
        abort(404)
    return language


@blueprint.get("")
@blueprint.get("/")
def index():
    return render_template("pages/archive.html", editions=archive.public_editions(), language=None)


@blueprint.get("/<language>")
def by_language(language: str):
    language = _language_or_404(language)
    return render_template("pages/archive.html", editions=archive.public_editions(language), language=language)


@blueprint.get("/<language>/<week>")
def edition_page(language: str, week: str):
    language = _language_or_404(language)
    try:
        week_start = date.fromisoformat(week)
    except ValueError:
        abort(404)
    edition = archive.public_edition(language, week_start)
    if edition is None:
        abort(404)
    response = make_response(archive.public_html(edition))
    response.headers["Content-Security-Policy"] = EDITION_POLICY
    response.headers["Content-Language"] = language
    return response


@blueprint.get("/<language>/feed.atom")
def feed(language: str):
    language = _language_or_404(language)
    editions = archive.public_editions(language, limit=50)
    updated = max((e.sent_at or e.send_started_at or e.built_at for e in editions), default=utcnow())
    body = render_template("pages/archive_feed.xml", editions=editions, language=language, updated=updated,
                           base_url=current_app.config["BASE_URL"], public_text=archive.public_text)
    response = make_response(body)
    response.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
    return response
