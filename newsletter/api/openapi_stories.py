"""The OpenAPI description of stories and weeks (merged into newsletter.api.openapi's document)."""

from __future__ import annotations

from newsletter.core.config import LANGUAGES

ERROR = {"$ref": "#/components/schemas/Error"}
STORY_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
WEEK = {"type": "string", "format": "date", "pattern": "^(19|2[0-9])[0-9]{2}-", "description": "any day of the week"}
WEEK_PATH = [{"name": "week", "in": "path", "required": True, "schema": WEEK}]
TREND = {"type": ["string", "null"], "enum": ["worse", "better", "unchanged", None]}
PER_LANGUAGE_ID = {
    "type": "object",
    "required": list(LANGUAGES),
    "properties": {code: {"type": ["integer", "null"]} for code in LANGUAGES},
}

SCHEMAS = {
    "Story": {
        "type": "object",
        "required": ["id", "key", "trend", "included", "lead", "position", "section", "articles"],
        "properties": {
            "id": {"type": "integer"},
            "key": {"type": ["string", "null"], "description": "how imports find the story (null: linked by hand)"},
            "trend": TREND,
            "included": {"type": "boolean", "description": "in every language's digest"},
            "lead": {"type": "boolean", "description": "the week's lead story (at most one)"},
            "position": {"type": ["integer", "null"], "description": "its place within its section, 0 first"},
            "section": {"type": "string"},
            "articles": {**PER_LANGUAGE_ID, "description": "the article telling it in each language, null: missing"},
            "titles": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
            "missing": {"type": "array", "items": {"type": "string", "enum": list(LANGUAGES)}},
        },
    },
    "StoryChanges": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "trend": TREND,
            "included": {"type": "boolean"},
            "lead": {"type": "boolean"},
            "position": {"type": ["integer", "null"], "minimum": 0, "maximum": 10000},
            "section": {"type": ["string", "null"], "maxLength": 200},
        },
    },
    "WeekSend": {
        "type": "object",
        "required": ["week_start", "languages", "queued", "missing_translations"],
        "properties": {
            "week_start": {"type": "string", "format": "date"},
            "queued": {"type": "integer"},
            "languages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["language", "edition_id", "queued", "reason"],
                    "properties": {
                        "language": {"type": "string", "enum": list(LANGUAGES)},
                        "edition_id": {"type": ["integer", "null"]},
                        "queued": {"type": ["integer", "null"], "description": "deliveries queued; null: not sent"},
                        "reason": {"type": ["string", "null"], "description": "why this language was not sent"},
                    },
                },
            },
            "missing_translations": {
                "type": "object",
                "description": "language -> ids of included stories without a version in it",
                "additionalProperties": {"type": "array", "items": {"type": "integer"}},
            },
        },
    },
}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    texts = {
        401: "Missing, unknown or revoked editor token",
        404: "Not found",
        409: "Two articles of one language in a story",
        422: "Invalid fields (per-field messages)",
    }
    return {str(code): _json(ERROR, texts[code]) for code in codes}


def _op(summary: str, responses: dict, *, body: dict | None = None, params: list | None = None) -> dict:
    operation = {"summary": summary, "tags": ["stories"], "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        operation["parameters"] = params
    return operation


def paths() -> dict:
    story = {"$ref": "#/components/schemas/Story"}
    week_query = [{"name": "week", "in": "query", "required": True, "schema": WEEK}]
    link_body = {
        "type": "object",
        "required": ["articles"],
        "properties": {
            "articles": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                "minItems": 1,
                "maxItems": len(LANGUAGES),
            }
        },
    }
    return {
        "/stories": {
            "get": _op(
                "The week's stories in reading order",
                {"200": _json({"type": "object", "properties": {"stories": {"type": "array", "items": story}}})}
                | _errors(401, 422),
                params=week_query,
            ),
            "post": _op(
                "Link articles (one per language) into one story",
                {"201": _json(story, "Linked")} | _errors(401, 404, 409, 422),
                body=link_body,
            ),
        },
        "/stories/{id}": {
            "get": _op(
                "A story, with suggested translations", {"200": _json(story)} | _errors(401, 404), params=STORY_ID
            ),
            "patch": _op(
                "Decide once for every language: trend, included, lead, position, section",
                {"200": _json(story)} | _errors(401, 404, 422),
                body={"$ref": "#/components/schemas/StoryChanges"},
                params=STORY_ID,
            ),
        },
        "/stories/{id}/articles/{article_id}": {
            "delete": _op(
                "Unlink one article: it becomes a story of its own",
                {"200": _json({"type": "object"})} | _errors(401, 404, 422),
                params=[
                    *STORY_ID,
                    {"name": "article_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                ],
            )
        },
        "/weeks/{week}": {
            "get": _op(
                "The week's missing translations (language -> story ids)",
                {"200": _json({"type": "object"})} | _errors(401, 422),
                params=WEEK_PATH,
            )
        },
        "/weeks/{week}/send": {
            "post": _op(
                "Send every ready language of the week (each language's count or reason)",
                {
                    "202": _json({"$ref": "#/components/schemas/WeekSend"}, "At least one language sent"),
                    "409": _json({"$ref": "#/components/schemas/WeekSend"}, "No language could be sent"),
                }
                | _errors(401, 422),
                params=WEEK_PATH,
            )
        },
    }
