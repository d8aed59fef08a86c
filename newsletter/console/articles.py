"""Articles: the list filtered by week, language and section; create, edit, delete; JSON upload; fetch feeds."""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from newsletter.accounts import activity
from newsletter.console import bp
from newsletter.console.field_errors import translated, translated_all
from newsletter.console.week import actor
from newsletter.content import articles, feeds
from newsletter.content.weeks import BadWeek, parse_week, publication_zone
from newsletter.core.config import LANGUAGES
from newsletter.core.settings import settings_of
from newsletter.editions import overview

FORM_FIELDS = ("language", "section", "title", "summary", "url", "published_at", "author", "trend")


def _filters() -> dict:
    language = request.args.get("language") if request.args.get("language") in LANGUAGES else None
    try:
        week = parse_week(request.args["week"]) if request.args.get("week") else None
    except BadWeek:
        week = None
    return {"language": language, "week_start": week, "section": request.args.get("section") or None}


@bp.get("/articles")
def articles_list():
    filters = _filters()
    return render_template(
        "console/articles.html", rows=overview.find_articles(**filters), filters=filters, sections=overview.sections()
    )


def _submitted() -> dict:
    """The form as the service's input; a date-time typed without a zone is read in the publication's zone."""
    data: dict[str, str | None] = {name: request.form.get(name, "") for name in FORM_FIELDS}
    data["author"] = data["author"] or None
    data["trend"] = data["trend"] or None
    moment = (data["published_at"] or "").strip()
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return data
    if parsed.tzinfo is None:
        data["published_at"] = parsed.replace(tzinfo=publication_zone()).isoformat()
    return data


def _form(article=None, values=None, errors=None, status=200):
    if values is None and article is not None:
        values = {name: getattr(article, name) for name in FORM_FIELDS}
        values["published_at"] = article.published_at.astimezone(publication_zone()).strftime("%Y-%m-%dT%H:%M")
    return render_template(
        "console/article_form.html", article=article, values=values or {"language": "en"}, errors=errors or {}
    ), status


@bp.route("/articles/new", methods=["GET", "POST"])
def article_new():
    if request.method == "GET":
        return _form()
    try:
        article = articles.create_article(_submitted())
    except articles.ArticleInvalid as invalid:
        return _form(values=request.form, errors=translated_all(invalid.errors), status=422)
    activity.record(actor(), "article_create", f"article {article.id}")
    flash(_("The article is saved."))
    return redirect(url_for("console.articles_list"))


@bp.route("/articles/<int:article_id>", methods=["GET", "POST"])
def article_edit(article_id: int):
    article = articles.get_article(article_id) or abort(404)
    if request.method == "GET":
        return _form(article)
    try:
        articles.update_article(article, _submitted())
    except articles.ArticleInvalid as invalid:
        return _form(article, values=request.form, errors=translated_all(invalid.errors), status=422)
    activity.record(actor(), "article_edit", f"article {article.id}")
    flash(_("The article is saved."))
    return redirect(url_for("console.articles_list"))


@bp.post("/articles/<int:article_id>/delete")
def article_delete(article_id: int):
    article = articles.get_article(article_id) or abort(404)
    articles.delete_article(article)
    activity.record(actor(), "article_delete", f"article {article_id}")
    flash(_("The article is deleted."))
    return redirect(url_for("console.articles_list"))


def uploaded_file(extension: str, content_types: tuple[str, ...]):
    """The uploaded file's bytes, or a translated reason it cannot be used."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None, _("Choose a file to upload.")
    named_right = upload.filename.lower().endswith(extension)
    typed_right = (upload.mimetype or "") in content_types
    if not (named_right or typed_right):
        return None, _("This is not a %(kind)s file.", kind=extension.lstrip(".").upper())
    return upload.read(), None


@bp.post("/articles/upload")
def articles_upload():
    raw, problem = uploaded_file(".json", ("application/json",))
    if problem:
        return _upload_page(problem=problem, status=422)
    try:
        result = articles.import_json(raw, current_app.config.get("STORY_URL_PATTERN"))
    except articles.ImportInvalid as invalid:
        problems = {where: translated_all(errors) for where, errors in invalid.problems.items()}
        return _upload_page(problems=problems, status=422)
    activity.record(actor(), "articles_import", "", f"{result.created} created, {result.updated} updated")
    return _upload_page(result=result)


def _upload_page(result=None, problems=None, problem=None, status=200):
    return render_template("console/articles_upload.html", result=result, problems=problems, problem=problem), status


@bp.post("/articles/fetch")
def articles_fetch():
    reports = feeds.fetch_configured(settings_of(current_app).feeds, None, current_app.config.get("STORY_URL_PATTERN"))
    activity.record(actor(), "articles_fetch", "", "; ".join(r.language for r in reports))
    return render_template("console/articles_fetch.html", reports=reports, translated=translated)
