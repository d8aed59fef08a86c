"""This week: the current and previous week's editions per language, and one click to build."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from newsletter import editions
from newsletter.accounts import activity
from newsletter.console import bp
from newsletter.console.security import current_editor
from newsletter.content.weeks import BadWeek, parse_week
from newsletter.editions import overview

RECENT_EDITIONS = 12


def actor() -> activity.Actor:
    return activity.editor_actor(current_editor(), "console")


@bp.get("/week")
def this_week():
    return render_template(
        "console/week.html",
        weeks=overview.current_and_previous_weeks(),
        recent=editions.list_editions()[:RECENT_EDITIONS],
    )


@bp.post("/week/build")
def build_week():
    try:
        week_start = parse_week(request.form.get("week", ""))
    except BadWeek:
        flash(_("Choose a week as a date, YYYY-MM-DD."), "error")
        return redirect(url_for("console.this_week"))
    built = editions.build_week(week_start)
    activity.record(actor(), "build", f"week {week_start.isoformat()}")
    if built:
        flash(
            ngettext(
                "%(num)d edition built for the week of %(week)s.",
                "%(num)d editions built for the week of %(week)s.",
                len(built),
                week=week_start.isoformat(),
            )
        )
    else:
        flash(_("No articles in the week of %(week)s; nothing was built.", week=week_start.isoformat()), "error")
    return redirect(url_for("console.this_week"))
