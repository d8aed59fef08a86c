"""JSON error responses shared by every API module and the app's error handler."""

from __future__ import annotations

from typing import TypeVar

from flask import Response, abort, jsonify

Found = TypeVar("Found")


def error_response(code: int, message: str, fields: dict | None = None) -> Response:
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response = jsonify(body)
    response.status_code = code
    return response


def or_404(found: Found | None, message: str) -> Found:
    """The looked-up object, or stop the request with a JSON 404 naming what is missing."""
    if found is None:
        abort(error_response(404, message))
    return found
