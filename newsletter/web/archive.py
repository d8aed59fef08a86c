"""Public archive pages and the per-language Atom feed (with ETag and Last-Modified)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, make_response, render_template, request
from flask_babel import force_locale

from newsletter.core.config import LANGUAGES
from newsletter.editions import archive
from newsletter.models import utcnow

blueprint = Blueprint("archive", __name__, url_prefix="/archive")

EMAIL_HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
"""Only for an edition stored before web pages were rendered (its email HTML, styled inline by MJML): the
archive's own pages take the site's policy, with styles from `static/archive.css` and the nonce."""
FEED_SIZE = 50


def _language_or_404(language: str) -> str:
    if language not in LANGUAGES:
        abort(404)
    return language


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and len(value) < 7 else 1


def _listing(language: str | None):
    page = archive.archive_page(language, _page_number())
    return render_template(
        "pages/archive.html", page=page, editions=page.editions, language=language, titles=archive.titles
    )


@blueprint.get("")
@blueprint.get("/")
def index():
    return _listing(None)


@blueprint.get("/<language>")
def by_language(language: str):
    return _listing(_language_or_404(language))


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
    context = archive.page_context(edition)
    if context is None:
        response = make_response(archive.public_html(edition))
        response.headers["Content-Security-Policy"] = EMAIL_HTML_POLICY
    else:
        with force_locale(language):
            response = make_response(render_template("pages/archive_edition.html", **context))
    response.headers["Content-Language"] = language
    return response


def _entry_content(edition) -> str:
    context = archive.page_context(edition)
    if context is None:
        return archive.public_html(edition)
    with force_locale(edition.language):
        return render_template("pages/_archive_digest.html", **context)


@blueprint.get("/<language>/feed.atom")
def feed(language: str):
    language = _language_or_404(language)
    editions = archive.public_editions(language, limit=FEED_SIZE)
    updated = max((archive.published_at(e) for e in editions), default=None)
    tag = archive.etag([language] + [f"{e.id}:{e.source_hash}:{archive.published_at(e).isoformat()}" for e in editions])
    with force_locale(language):
        body = render_template(
            "pages/archive_feed.xml",
            editions=editions,
            language=language,
            updated=updated or utcnow(),
            base_url=current_app.config["BASE_URL"],
            content=_entry_content,
            published_at=archive.published_at,
        )
    response = make_response(body)
    response.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
    response.set_etag(tag)
    if updated is not None:
        response.last_modified = updated
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response.make_conditional(request)
