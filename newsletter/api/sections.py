"""Editor API: the topic sections (their order and per-language names). A bad list is a 422 (errors.py)."""

from __future__ import annotations

from flask import jsonify

from newsletter.api import api
from newsletter.api.auth import require_editor
from newsletter.api.requests import json_body
from newsletter.api.responses import error_response
from newsletter.content import sections as service


@api.get("/sections")
@require_editor
def list_sections():
    return jsonify({"sections": [service.section_json(s) for s in service.list_sections()]})


@api.put("/sections")
@require_editor
def replace_sections():
    """The whole list in reading order: {"sections": [{"name": "Economy", "names": {"ru": "Экономика"}}]}."""
    data = json_body()
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object with Content-Type: application/json.")
    stored = service.replace_sections(data.get("sections"))
    return jsonify({"sections": [service.section_json(s) for s in stored]})
