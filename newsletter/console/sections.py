"""Sections: the topic sections' reading order and their names per language (newsletter.content.sections decides)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from newsletter.accounts import activity
from newsletter.console import bp
from newsletter.console.field_errors import translated
from newsletter.console.week import actor
from newsletter.content import sections
from newsletter.core.config import LANGUAGES

BLANK_ROWS = 3
MAX_ROWS = 200


def _rows_from_form() -> list[dict]:
    """The form's rows as the service's items, in the order of their position numbers; blank or removed rows go."""
    rows = []
    count = request.form.get("rows", "")
    for index in range(min(int(count), MAX_ROWS) if count.isdigit() else 0):
        name = request.form.get(f"name_{index}", "")
        if not name.strip() or request.form.get(f"remove_{index}"):
            continue
        try:
            position = float(request.form.get(f"position_{index}", ""))
        except ValueError:
            position = float(index)
        names = {code: request.form.get(f"{code}_{index}", "") or None for code in LANGUAGES}
        rows.append((position, index, {"name": name, "names": names}))
    return [item for _position, _index, item in sorted(rows, key=lambda row: row[:2])]


def _page(status=200, errors=None):
    current = sections.list_sections()
    return render_template(
        "console/sections.html", rows=current, blank=BLANK_ROWS, errors=errors or {}, translated=translated
    ), status


@bp.get("/sections")
def sections_page():
    return _page()


@bp.post("/sections")
def sections_save():
    try:
        sections.replace_sections(_rows_from_form())
    except sections.SectionsInvalid as invalid:
        return _page(422, invalid.errors)
    activity.record(actor(), "sections_set")
    flash(_("The sections are saved."))
    return redirect(url_for("console.sections_page"))
