"""Editor API: articles (list, add, show, update, delete)."""

from __future__ import annotations

from flask import abort, current_app, jsonify, request

from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.requests import choice_arg, json_body
from newsletter.api.responses import error_response, or_404
from newsletter.content import articles as service
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.models import Article


def article_json(article: Article) -> dict:
    return {
        "id": article.id,
        "language": article.language,
        "section": article.section,
        "title": article.title,
        "summary": article.summary,
        "url": article.url,
        "published_at": article.published_at.isoformat(),
        "author": article.author,
        "trend": article.trend,
        "guid": article.guid,
        "story": article.story.key if article.story else None,
        "story_id": article.story_id,
    }


def _int_arg(name: str, default: int, maximum: int) -> int:
    """A whole number from 0 to `maximum` in ASCII digits; anything else (" 5", "+5", "-1", "５", "") is a 422."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)) or int(raw) > maximum:
        abort(error_response(422, f"Invalid {name}.", {name: f"must be a whole number from 0 to {maximum}"}))
    return int(raw)


@api.get("/articles")
@require_editor
def list_articles():
    language = choice_arg("language", LANGUAGES)
    rows = service.list_articles(language, limit=_int_arg("limit", 200, 1000), offset=_int_arg("offset", 0, 10**9))
    return jsonify({"articles": [article_json(a) for a in rows]})


@api.post("/articles")
@require_editor
def create_article():
    data = json_body()
    if data is None:
        return error_response(400, "Send a JSON object with Content-Type: application/json.")
    try:
        article = service.create_article(data, current_app.config.get("STORY_URL_PATTERN"))
    except service.ArticleInvalid as error:
        return error_response(422, "The article is not valid.", error.errors)
    return jsonify(article_json(article)), 201


def _article_or_404(article_id: int) -> Article:
    return or_404(db.session.get(Article, article_id), "No such article.")


@api.get("/articles/<int:article_id>")
@require_editor
def show_article(article_id: int):
    article = _article_or_404(article_id)
    return jsonify(article_json(article))


@api.route("/articles/<int:article_id>", methods=["PATCH", "PUT"])
@require_editor
def update_article(article_id: int):
    article = _article_or_404(article_id)
    data = json_body()
    if data is None:
        return error_response(400, "Send a JSON object with Content-Type: application/json.")
    try:
        service.update_article(article, data)
    except service.ArticleInvalid as error:
        db.session.rollback()
        return error_response(422, "The article is not valid.", error.errors)
    return jsonify(article_json(article))


@api.delete("/articles/<int:article_id>")
@require_editor
def delete_article(article_id: int):
    article = _article_or_404(article_id)
    service.delete_article(article)
    return "", 204
