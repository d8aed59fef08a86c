"""The activity log page: who did what and when, from the console, the API and the CLI."""

from __future__ import annotations

from flask import render_template, request

from newsletter.accounts import activity
from newsletter.console import bp

PAGE = 100


@bp.get("/activity")
def activity_page():
    page = max(0, request.args.get("page", 0, type=int) or 0)
    entries = activity.recent(limit=PAGE + 1, offset=page * PAGE)
    return render_template(
        "console/activity.html", entries=entries[:PAGE], more=len(entries) > PAGE, page=page, describe=activity.describe
    )
