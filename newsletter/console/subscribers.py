"""Subscribers: counts, lookup by exact address (by POST, so no address reaches a URL or a log), erase,
CSV import with its per-line report, CSV export, and the suppression list."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from newsletter.accounts import activity, roles
from newsletter.console import bp
from newsletter.console.articles import uploaded_file
from newsletter.console.week import actor
from newsletter.core.addresses import InvalidAddress, normalise_address
from newsletter.core.settings import settings_of
from newsletter.editions import overview
from newsletter.subscribers import import_export as subscriber_io
from newsletter.subscribers import suppression


def _page(status=200, **extra):
    return render_template("console/subscribers.html", counts=overview.subscriber_counts(), **extra), status


@bp.get("/subscribers")
def subscribers_page():
    return _page()


@bp.post("/subscribers/lookup")
def subscribers_lookup():
    raw = request.form.get("email", "")[:400]
    try:
        address = normalise_address(raw, smtp_utf8=settings_of(current_app).mail.smtp_utf8)
    except InvalidAddress as invalid:
        return _page(422, lookup=raw, lookup_error=invalid.message)
    found = subscriber_io.find_subscriber(address, smtp_utf8=settings_of(current_app).mail.smtp_utf8)
    return _page(lookup=raw, looked_up=True, subscriber=found)


@bp.post("/subscribers/<int:subscriber_id>/erase")
def subscribers_erase(subscriber_id: int):
    subscriber = subscriber_io.get_subscriber(subscriber_id) or abort(404)
    subscriber_io.erase_subscriber(subscriber, settings_of(current_app).site.secret_key)
    activity.record(actor(), "erase", f"subscriber {subscriber_id}")
    flash(_("The subscriber is erased, with their consent records."))
    return redirect(url_for("console.subscribers_page"))


@bp.post("/subscribers/import")
def subscribers_import():
    raw, problem = uploaded_file(".csv", ("text/csv", "application/vnd.ms-excel"))
    if problem:
        return _page(422, import_problem=problem)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(422, import_problem=_("The file is not UTF-8 text."))
    try:
        report = subscriber_io.import_csv(io.StringIO(text, newline=""), "console", settings_of(current_app))
    except subscriber_io.ImportFormatError as error:
        return _page(
            422,
            import_problem=_(
                "The file's first line must name the columns email and languages (and optionally confirmed_at)."
            ),
            import_detail=str(error),
        )
    activity.record(
        actor(),
        "subscribers_import",
        "",
        f"{report.added} added, {report.updated} updated, {len(report.errors)} rejected",
    )
    return _page(import_report=report)


@bp.get("/subscribers/export.csv")
def subscribers_export():
    include_all = request.args.get("all") == "1"
    if include_all and not roles.may(current_user.editor.role, roles.Action.EXPORT_ALL):
        abort(403)
    buffer = io.StringIO()
    count = subscriber_io.write_csv(buffer, include_all)
    activity.record(actor(), "subscribers_export", "", f"{count} rows")
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'},
    )


def _wave_filter() -> tuple[str, datetime | None, str | None]:
    """The reason text and the since-date of the wave form (reason, since, error)."""
    reason = " ".join(str(request.values.get("reason", "")).split())[:200]
    since_text = str(request.values.get("since", "")).strip()
    if not since_text:
        return reason, None, None
    try:
        return reason, datetime.fromisoformat(since_text).replace(tzinfo=UTC), None
    except ValueError:
        return reason, None, _("Give the date as YYYY-MM-DD.")


@bp.get("/suppressions")
def suppression_list():
    reason, since, error = _wave_filter()
    if error:
        flash(error, "error")
    filtered = bool(reason or since)
    rows = suppression.entries(reason or None, since) if filtered else suppression.entries()
    wave = suppression.wave(reason, since) if reason and since else []
    return render_template(
        "console/suppressions.html", rows=rows, reason=reason, since=since, wave_size=len(wave), filtered=filtered
    )


@bp.post("/suppressions/restore")
def suppression_restore():
    reason, since, error = _wave_filter()
    if error or not reason or since is None:
        flash(error or _("Give both the text the reasons contain and the date the wave began."), "error")
        return redirect(url_for("console.suppression_list"))
    addresses = suppression.restore(reason, since)
    activity.record(actor(), "suppression_restore", f"{len(addresses)}", f"reason contains {reason!r}, since {since}")
    flash(ngettext("%(num)d address may be mailed again.", "%(num)d addresses may be mailed again.", len(addresses)))
    return redirect(url_for("console.suppression_list"))


@bp.post("/suppressions/remove")
def suppression_remove():
    try:
        settings = settings_of(current_app)
        suppression.remove(request.form.get("email", ""), settings.site.secret_key, smtp_utf8=settings.mail.smtp_utf8)
    except (suppression.NotSuppressed, InvalidAddress):
        flash(_("This address is not on the suppression list."), "error")
    else:
        activity.record(actor(), "suppression_remove", "an address")
        flash(_("The address may be mailed again."))
    return redirect(url_for("console.suppression_list"))
