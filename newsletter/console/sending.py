"""Sending: live progress (short polling with htmx; a plain reload without script), pause, resume, cancel."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from newsletter import editions
from newsletter.accounts import activity
from newsletter.console import bp
from newsletter.console.editions import edition_or_404
from newsletter.console.week import actor
from newsletter.editions import overview

CONTROLS = {"pause": editions.pause_edition, "resume": editions.resume_edition, "cancel": editions.cancel_edition}


def _progress_context(edition_id: int) -> dict:
    edition = edition_or_404(edition_id)
    return {"edition": edition, "progress": overview.sending_progress(edition.id)}


@bp.get("/editions/<int:edition_id>/sending")
def sending_page(edition_id: int):
    return render_template("console/sending.html", **_progress_context(edition_id))


@bp.get("/editions/<int:edition_id>/progress")
def sending_progress(edition_id: int):
    """The progress block alone, polled every two seconds by htmx while the edition sends."""
    return render_template("console/_progress.html", **_progress_context(edition_id))


@bp.post("/editions/<int:edition_id>/sending/<action>")
def sending_control(edition_id: int, action: str):
    control = CONTROLS.get(action)
    edition = edition_or_404(edition_id)
    if control is None:
        return redirect(url_for("console.sending_page", edition_id=edition.id))
    control(edition.id)
    activity.record(actor(), action, f"edition {edition.id}")
    flash(
        {"pause": _("Sending is paused."), "resume": _("Sending continues."), "cancel": _("Sending is cancelled.")}[
            action
        ]
    )
    return redirect(url_for("console.sending_page", edition_id=edition.id))
