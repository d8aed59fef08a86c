"""Reading request bodies for every /api/v1 endpoint: one JSON reader, safe against any input."""

from __future__ import annotations

import json
from collections.abc import Sequence

from flask import abort, request
from flask_babel import gettext as _

from newsletter.api.responses import error_response
from newsletter.core.characters import first_forbidden
from newsletter.core.request_text import first_unusable_text

NOT_JSON = "not-json"
MALFORMED = "malformed"


class UnreadableBody(ValueError):
    """The body is not JSON (`reason` NOT_JSON) or cannot be parsed (MALFORMED: bad syntax, encoding, nesting)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_json() -> object:
    """The parsed JSON body, or UnreadableBody; too deep nesting is malformed, not a server error.

    A string holding a surrogate or noncharacter stops the request with a 422 naming the field.
    """
    if not request.is_json:
        raise UnreadableBody(NOT_JSON)
    try:
        body = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, RecursionError) as error:
        raise UnreadableBody(MALFORMED) from error
    where = first_unusable_text(body)
    if where is not None:
        rule = _("Text must not contain unpaired surrogates or Unicode noncharacters.")
        message = f"{rule} ({_first_unusable_code(body)})"
        abort(error_response(422, message, {where: message}))
    return body


def _first_unusable_code(body: object) -> str:
    """The offending character as U+XXXX, as newsletter.core.characters names it (the field's message shows it)."""
    found = first_forbidden(json.dumps(body, ensure_ascii=False, default=str))
    return found or "?"


def json_body() -> object | None:
    """The parsed JSON body, or None when it is missing, not JSON or malformed."""
    try:
        return read_json()
    except UnreadableBody:
        return None


def choice_arg(name: str, allowed: Sequence[str]) -> str | None:
    """An optional query argument that must be one of `allowed` when given (`?language=` is a 422, not "all")."""
    value = request.args.get(name)
    if value is not None and value not in allowed:
        abort(error_response(422, f"Unknown {name}.", {name: f"must be one of {', '.join(allowed)}"}))
    return value
