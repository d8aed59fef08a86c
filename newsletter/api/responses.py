"""JSON error responses shared by every API module."""
from __future__ import annotations

from typing import TypeVar

from flask import abort, jsonify

Found = TypeVar("Found")


def error_response(code: int, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), code


def or_404(found: Found | None, message: str) -> Found:
    """The looked-up object, or stop the request with a JSON 404 naming what is missing."""
    if found is None:
        body, code = error_response(404, message)
        body.status_code = code
        abort(body)
    return found
