"""Bearer-token authentication for the editor API."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from newsletter.accounts.editors import editor_for_token
from newsletter.api.responses import error_response


def _unauthorized():
    response = error_response(401, "A valid editor token is required.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="newsletter"'
    return response


def require_editor(view):
    """Let the request through only with `Authorization: Bearer <token>` of an active editor (g.editor)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        editor = editor_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if editor is None:
            return _unauthorized()
        g.editor = editor
        return view(*args, **kwargs)

    return wrapper
