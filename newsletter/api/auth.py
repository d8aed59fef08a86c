"""Bearer-token authentication for the editor API, and the role check of `newsletter.accounts.roles`."""

from __future__ import annotations

import re
from functools import wraps

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from newsletter.accounts import roles
from newsletter.accounts.editors import editor_for_token
from newsletter.api.responses import error_response


def _unauthorized():
    response = error_response(401, "A valid editor token is required.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="newsletter"'
    return response


FORBIDDEN_MESSAGE = "Your role does not allow this; an admin's token is needed."
_FORBIDDEN = {
    "description": "The token's role does not allow this (admins only)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def forbidden():
    return error_response(403, FORBIDDEN_MESSAGE)


def require_editor(view):
    """Let the request through only with `Authorization: Bearer <token>` of an active editor (g.editor)
    whose role may use this endpoint (the table in `newsletter.accounts.roles`, shared with the console)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        editor = editor_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if editor is None:
            return _unauthorized()
        if not roles.may_use_endpoint(editor.role, request.endpoint):
            return forbidden()
        g.editor = editor
        return view(*args, **kwargs)

    return wrapper


def may(action: roles.Action) -> bool:
    """May the token's editor take this action (for a choice inside one endpoint, such as a full export)?"""
    return roles.may(g.editor.role, action)


def describe_roles(paths: dict, prefix: str = "/api/v1") -> dict:
    """Mark each documented operation with the roles the table allows (`x-roles`), and document the 403 of
    the admin-only ones, so the OpenAPI document and the role check cannot drift apart."""
    adapter = current_app.url_map.bind("localhost")
    for path, item in paths.items():
        url = prefix + re.sub(r"\{[^}]+\}", "1", path)
        for method, operation in item.items():
            try:
                endpoint, _args = adapter.match(url, method=method.upper())
            except HTTPException:
                continue
            action = roles.ENDPOINTS.get(endpoint)
            if action is None:
                continue
            operation["x-roles"] = sorted(roles.ALLOWED[action])
            if roles.ALLOWED[action] != roles.EVERYONE:
                operation["responses"].setdefault("403", _FORBIDDEN)
    return paths
