"""Editors (admin only, by the role table): list, create (the API token shown once), change a role, revoke,
sign out everywhere."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from newsletter.accounts import activity, sessions
from newsletter.accounts import editors as service
from newsletter.console import bp
from newsletter.console.security import current_editor
from newsletter.console.week import actor
from newsletter.core.settings import settings_of


def _page(status=200, **extra):
    return render_template("console/editors.html", rows=service.list_editors(), **extra), status


@bp.get("/editors")
def editors_page():
    return _page()


@bp.post("/editors")
def editors_create():
    form = request.form
    try:
        editor, token = service.create_editor(
            form.get("name", ""),
            email=form.get("email") or None,
            role=form.get("role", "editor"),
            smtp_utf8=settings_of(current_app).mail.smtp_utf8,
        )
    except service.EditorError:
        return _page(
            422,
            create_error=_(
                "Give a unique name (1 to 200 characters, no @), a valid unique e-mail address or none, and a role."
            ),
            values=form,
        )
    activity.record(actor(), "account_create", editor.name)
    return _page(created=editor, token=token)


@bp.post("/editors/<int:editor_id>/role")
def editors_role(editor_id: int):
    editor = service.get_editor(editor_id) or abort(404)
    if editor.id == current_editor().id:
        flash(_("You cannot change your own role."), "error")
        return redirect(url_for("console.editors_page"))
    try:
        service.set_role(editor, request.form.get("role", ""))
    except service.EditorError:
        abort(400)
    activity.record(actor(), "account_role", editor.name, editor.role)
    flash(_("The role is changed."))
    return redirect(url_for("console.editors_page"))


@bp.post("/editors/<int:editor_id>/revoke")
def editors_revoke(editor_id: int):
    editor = service.get_editor(editor_id) or abort(404)
    if editor.id == current_editor().id:
        flash(_("You cannot revoke your own account."), "error")
        return redirect(url_for("console.editors_page"))
    service.revoke_editor(editor.id)
    activity.record(actor(), "account_revoke", editor.name)
    flash(_("The account is revoked; its token and sessions no longer work."))
    return redirect(url_for("console.editors_page"))


@bp.post("/editors/<int:editor_id>/sign-out")
def editors_sign_out(editor_id: int):
    """End every console session of the editor at once (a lost laptop, a departure); the token is kept."""
    editor = service.get_editor(editor_id) or abort(404)
    ended = sessions.end_all(editor)
    activity.record(actor(), "account_sign_out", editor.name, f"{ended} sessions")
    flash(_("%(name)s is signed out everywhere.", name=editor.name))
    return redirect(url_for("console.editors_page"))
