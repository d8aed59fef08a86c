"""One edition: its editorial fields, previews (be/ru/en, phone or desktop, text part), size against clipping,
test send, "Send to N subscribers now?", schedule, unschedule, cancel, reopen. Every change goes through
newsletter.editions (issue 8's lifecycle), whose conflicts the console's error page shows."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from newsletter import editions
from newsletter.accounts import activity
from newsletter.console import bp
from newsletter.console.field_errors import translated, translated_all
from newsletter.console.security import current_editor
from newsletter.console.week import actor
from newsletter.content import articles
from newsletter.content.weeks import publication_zone
from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.settings import settings_of
from newsletter.delivery.transport import DeliveryError
from newsletter.editions import overview
from newsletter.models import Edition
from newsletter.models.lifecycle import Action, allows

CLIPPING_BYTES = 102 * 1024
"""Gmail shows only the first 102 KB of a message's HTML and hides the rest behind a link."""
MAX_TEST_RECIPIENTS = 10
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def edition_or_404(edition_id: int) -> Edition:
    return editions.get_edition(edition_id) or abort(404)


def edition_page(edition: Edition, status: int = 200, **extra):
    width = "375" if request.args.get("width", "375") == "375" else "desktop"
    text_part = editions.preview_text(edition)  # rebuilds a stale draft first, so what is shown is what is sent
    html_bytes = len((edition.html or "").encode("utf-8"))
    return render_template(
        "console/edition.html",
        edition=edition,
        siblings=overview.week_siblings(edition),
        width=width,
        html_bytes=html_bytes,
        clipping_bytes=CLIPPING_BYTES,
        audience=overview.audience_size(edition.language),
        counts=overview.sending_progress(edition.id).counts,
        text_part=text_part,
        stale=editions.is_stale(edition),
        rows=overview.editorial_rows(edition),
        can=lambda action: allows(edition.status, Action(action)),
        now_local=datetime.now(publication_zone()).strftime("%Y-%m-%dT%H:%M"),
        **extra,
    ), status


@bp.get("/editions/<int:edition_id>")
def edition_show(edition_id: int):
    return edition_page(edition_or_404(edition_id))


@bp.get("/editions/<int:edition_id>/preview")
def edition_preview(edition_id: int):
    """The HTML part for a sandboxed iframe: its own CSP allows only inline styles and data: images."""
    response = Response(editions.preview_html(edition_or_404(edition_id)), mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _editorial_changes(edition: Edition) -> dict:
    """The form as update_editorial's input: texts, the lead, and the included articles by position."""
    form = request.form
    rows = overview.editorial_rows(edition)
    included = [row.article.id for row in rows if form.get(f"include_{row.article.id}")]

    def position(article_id: int) -> tuple[float, int]:
        raw = form.get(f"position_{article_id}", "")
        index = [row.article.id for row in rows].index(article_id)
        try:
            return float(raw), index
        except ValueError:
            return float(index + 1), index

    lead = form.get("lead_article_id", "")
    return {
        "subject": form.get("subject", "")[:1000] or None,
        "preheader": form.get("preheader", "")[:1000] or None,
        "intro": form.get("intro", "")[:20000] or None,
        "lead_article_id": int(lead) if lead.isdigit() else None,
        "article_ids": sorted(included, key=position),
        "excluded_article_ids": [row.article.id for row in rows if row.article.id not in included],
    }


@bp.post("/editions/<int:edition_id>/editorial")
def edition_editorial(edition_id: int):
    edition = edition_or_404(edition_id)
    try:
        editions.update_editorial(edition, _editorial_changes(edition))
    except editions.EditionInvalid as invalid:
        return edition_page(edition, 422, editorial_errors=translated_all(invalid.errors), form=request.form)
    articles.set_trends(
        {
            row.article.id: request.form.get(f"trend_{row.article.id}") or None
            for row in overview.editorial_rows(edition)
        }
    )
    activity.record(actor(), "edit", f"edition {edition.id}")
    flash(_("The edition is saved."))
    return redirect(url_for("console.edition_show", edition_id=edition.id))


def _test_recipients() -> tuple[list[str], str | None]:
    if request.form.get("to") == "me":
        own = current_editor().email
        if not own:
            return [], _("Your account has no e-mail address; list the addresses instead.")
        return [own], None
    raw = [part for part in request.form.get("addresses", "").replace(",", " ").split() if part]
    if not raw or len(raw) > MAX_TEST_RECIPIENTS:
        return [], _("List 1 to %(count)d addresses.", count=MAX_TEST_RECIPIENTS)
    try:
        smtp_utf8 = settings_of(current_app).mail.smtp_utf8
        return [normalise_address(address[:400], smtp_utf8=smtp_utf8) for address in raw], None
    except InvalidAddress as invalid:
        return [], str(invalid.message)


@bp.post("/editions/<int:edition_id>/test")
def edition_test(edition_id: int):
    edition = edition_or_404(edition_id)
    recipients, problem = _test_recipients()
    if problem:
        return edition_page(edition, 422, test_error=problem)
    try:
        editions.send_test(edition, recipients, settings_of(current_app))
    except DeliveryError as error:
        return edition_page(
            edition, 502, test_error=_("The mail server did not accept the test: %(reply)s", reply=str(error))
        )
    activity.record(actor(), "test_send", f"edition {edition.id}", f"{len(recipients)} recipients")
    flash(ngettext("The test was sent to %(num)d address.", "The test was sent to %(num)d addresses.", len(recipients)))
    return redirect(url_for("console.edition_show", edition_id=edition.id))


@bp.get("/editions/<int:edition_id>/send")
def edition_send_confirm(edition_id: int):
    edition = edition_or_404(edition_id)
    return render_template(
        "console/send_confirm.html", edition=edition, audience=overview.audience_size(edition.language)
    )


@bp.post("/editions/<int:edition_id>/send")
def edition_send(edition_id: int):
    """Enqueue; a conflict (cancelled or sent meanwhile) is shown by the console's 409 page, nothing sent."""
    edition = edition_or_404(edition_id)
    queued = editions.send_edition(edition)
    activity.record(actor(), "send", f"edition {edition.id}", f"{queued} queued")
    return redirect(url_for("console.sending_page", edition_id=edition.id))


@bp.post("/editions/<int:edition_id>/schedule")
def edition_schedule(edition_id: int):
    edition = edition_or_404(edition_id)
    try:
        editions.schedule_edition(edition, editions.parse_send_time(request.form.get("at", "")[:60]))
    except editions.BadSendTime as bad:
        return edition_page(edition, 422, schedule_error=translated(bad.message))
    activity.record(actor(), "schedule", f"edition {edition.id}", editions.shown_time(edition.scheduled_for) or "")
    flash(_("The edition is scheduled."))
    return redirect(url_for("console.edition_show", edition_id=edition.id))


def _edition_action(edition_id: int, action, verb: str, done: str):
    """One lifecycle action from the edition page: perform it, log it, say so (a conflict is the 409 page)."""
    edition = edition_or_404(edition_id)
    action(edition)
    activity.record(actor(), verb, f"edition {edition.id}")
    flash(done)
    return redirect(url_for("console.edition_show", edition_id=edition.id))


@bp.post("/editions/<int:edition_id>/cancel")
def edition_cancel(edition_id: int):
    return _edition_action(edition_id, editions.cancel_edition, "cancel", _("The edition is cancelled."))


@bp.post("/editions/<int:edition_id>/unschedule")
def edition_unschedule(edition_id: int):
    return _edition_action(
        edition_id,
        editions.unschedule_edition,
        "unschedule",
        _("The edition is back to draft and will not be sent at its time."),
    )


@bp.post("/editions/<int:edition_id>/reopen")
def edition_reopen(edition_id: int):
    return _edition_action(edition_id, editions.reopen_edition, "reopen", _("The edition is a draft again."))
