"""`GET /api/v1/openapi.json`: the hand-written OpenAPI 3.1 description of every /api/v1 endpoint."""

from __future__ import annotations

from flask import current_app, jsonify

from newsletter.api import api, openapi_stories
from newsletter.api.auth import describe_roles
from newsletter.core.config import LANGUAGES
from newsletter.models.content import EditionStatus

LANGUAGE = {"type": "string", "enum": list(LANGUAGES)}
ERROR = {"$ref": "#/components/schemas/Error"}
EMAIL_BODY = {
    "type": "object",
    "required": ["email"],
    "properties": {"email": {"type": "string", "format": "email"}, "reason": {"type": "string", "maxLength": 500}},
}
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    texts = {
        400: "Malformed request",
        401: "Missing, unknown or revoked editor token",
        404: "Not found",
        409: "Not allowed in the edition's current state",
        413: "Request body too large",
        422: "Invalid fields (per-field messages)",
        502: "The mail server refused the message",
    }
    return {str(code): _json(ERROR, texts[code]) for code in codes}


def _field_errors(*codes: int) -> dict:
    texts = {400: "Malformed JSON", 415: "Not JSON", 422: "Invalid fields (per-field messages)"}
    return {str(code): _json({"$ref": "#/components/schemas/FieldErrors"}, texts[code]) for code in codes}


def _op(
    summary: str,
    responses: dict,
    *,
    body: dict | None = None,
    params: list | None = None,
    public: bool = False,
    tag: str = "editions",
) -> dict:
    operation = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        operation["parameters"] = params
    if public:
        operation["security"] = []
    return operation


EDITORIAL = {
    "subject": {"type": ["string", "null"], "maxLength": 200},
    "preheader": {"type": ["string", "null"], "maxLength": 200},
    "intro": {"type": ["string", "null"], "maxLength": 5000, "description": "plain text; blank lines part paragraphs"},
    "lead_article_id": {
        "type": ["integer", "null"],
        "minimum": 1,
        "description": "an article of this edition's week and language (another id is a 422); null: the first",
    },
    "article_ids": {
        "type": ["array", "null"],
        "items": {"type": "integer"},
        "description": "the included articles in reading order; the week's others are excluded",
    },
    "excluded_article_ids": {"type": ["array", "null"], "items": {"type": "integer"}},
}
NOT_BLANK = "\\S"
"""A required text field holds at least one character that is not a space (a blank one is a 422)."""
ARTICLE_FIELDS = {
    "language": LANGUAGE,
    "section": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK},
    "title": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NOT_BLANK},
    "summary": {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": NOT_BLANK},
    "url": {"type": "string", "format": "uri", "pattern": "^https?://[^\\s/?#<>\"']+([/?#][^\\s<>\"']*)?$"},
    "published_at": {"type": "string", "format": "date-time", "description": "ISO 8601 with a zone offset"},
    "author": {"type": ["string", "null"], "maxLength": 200},
    "trend": {"type": ["string", "null"], "enum": ["worse", "better", "unchanged", None]},
    "guid": {"type": ["string", "null"], "maxLength": 2000},
    "story": {
        "type": ["string", "null"],
        "maxLength": 200,
        "description": "links translations: articles with the same key are one story (default: by URL)",
    },
}
ARTICLE_REQUIRED = ["language", "section", "title", "summary", "url", "published_at"]
WEEK = {"type": "string", "format": "date", "pattern": "^(19|2[0-9])[0-9]{2}-", "description": "any day of the week"}
CONTROL_RESULT = {
    "type": "object",
    "required": ["id", "status", "counts"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": [state.value for state in EditionStatus]},
        "paused_reason": {"type": ["string", "null"]},
        "counts": {"$ref": "#/components/schemas/Counts"},
    },
}

STORABLE = (
    "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069\\ufdd0-\\ufdef\\ufffe\\uffff]*$"
)
"""Text the services store: no control characters but tab/LF/CR, no bidi controls, no noncharacters."""
SECTION_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": (
        "^\\s*[^\\s\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\ufdd0-\\ufdef\\ufffe\\uffff]"
        "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\ufdd0-\\ufdef\\ufffe\\uffff]*$"
    ),
}
SECTIONS_BODY = {
    "type": "object",
    "required": ["sections"],
    "properties": {
        "sections": {
            "type": "array",
            "description": "in reading order; no name twice (case and spaces do not count)",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": SECTION_NAME,
                    "names": {
                        "type": ["object", "null"],
                        "additionalProperties": False,
                        "properties": {
                            code: {"type": ["string", "null"], "maxLength": 200, "pattern": STORABLE}
                            for code in LANGUAGES
                        },
                    },
                },
            },
        }
    },
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
        },
    },
    "FieldErrors": {
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "ArticleInput": {
        "type": "object",
        "required": ARTICLE_REQUIRED,
        "additionalProperties": False,
        "properties": ARTICLE_FIELDS,
    },
    "ArticleChange": {"type": "object", "additionalProperties": False, "properties": ARTICLE_FIELDS},
    "Article": {
        "type": "object",
        "required": ["id", *ARTICLE_REQUIRED],
        "properties": {"id": {"type": "integer"}, **ARTICLE_FIELDS},
    },
    "Counts": {
        "type": "object",
        "description": "Deliveries of the edition by state (test sends are not counted).",
        "properties": {
            **{
                k: {"type": "integer"}
                for k in ("queued", "sending", "sent", "failed", "suppressed", "cancelled", "total")
            },
            "bounced": {"type": "integer", "description": "deliveries with a bounce report"},
            "complained": {"type": "integer", "description": "deliveries with a complaint"},
            "next_retry_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Edition": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "week_start": {"type": "string", "format": "date"},
            "language": LANGUAGE,
            "status": {"type": "string", "enum": [status.value for status in EditionStatus]},
            "subject": {"type": "string"},
            "article_count": {"type": "integer"},
            "stale": {"type": "boolean", "description": "its articles or overrides changed since it was rendered"},
            "overdue": {"type": "boolean", "description": "scheduled, and its time passed more than the grace ago"},
            "published": {"type": "boolean"},
            "html_bytes": {"type": "integer"},
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "e.g. near Gmail's clipping size",
            },
            **EDITORIAL,
            **{
                k: {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "in the publication's zone, with its offset",
                }
                for k in ("built_at", "scheduled_for", "send_started_at", "sent_at", "cancelled_at")
            },
            "paused_reason": {
                "type": ["string", "null"],
                "description": "Why the send is paused, e.g. the circuit "
                "breaker's last refusal; null when an editor paused it.",
            },
            "status_summary": {
                "type": "string",
                "description": "The status as people read it: `sent with N failed` when a sent edition has "
                "failed deliveries (refused, or given up after the retry age), else the status.",
            },
            "counts": {"$ref": "#/components/schemas/Counts"},
        },
    },
    "Subscription": {
        "type": "object",
        "required": ["email", "languages"],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "languages": {"type": "array", "items": LANGUAGE, "minItems": 1, "uniqueItems": True},
            "locale": {"type": "string", "description": "language of the emails and pages (default: the first chosen)"},
            "page": {
                "type": "string",
                "description": "the page the visitor subscribed on (default: Referer); "
                "cleaned and cut to 500 characters",
            },
        },
    },
    "Subscriber": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "confirmed", "unsubscribed"]},
            "languages": {"type": "array", "items": LANGUAGE},
            "pending_languages": {"type": "array", "items": LANGUAGE},
            "locale": {"type": "string"},
            **{
                k: {"type": ["string", "null"], "format": "date-time"}
                for k in ("created_at", "confirmed_at", "unsubscribed_at")
            },
        },
    },
}


def _paths() -> dict:
    edition = {"$ref": "#/components/schemas/Edition"}
    article = {"$ref": "#/components/schemas/Article"}
    control = {"200": _json(edition), **_errors(401, 404, 409)}
    send_control = {"200": _json(CONTROL_RESULT), **_errors(401, 404, 409)}
    return {
        "/subscriptions": {
            "post": _op(
                "Subscribe (double opt-in); the same 202 whatever the address's state",
                {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {"status": {"const": "accepted"}, "message": {"type": "string"}},
                        },
                        "Check your inbox",
                    ),
                    **_field_errors(400, 415, 422),
                    **_errors(413),
                },
                body={"$ref": "#/components/schemas/Subscription"},
                public=True,
                tag="subscriptions",
            )
        },
        "/subscribers": {
            "get": _op(
                "List subscribers, newest first",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "subscribers": {"type": "array", "items": {"$ref": "#/components/schemas/Subscriber"}},
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "total": {"type": "integer"},
                            },
                        }
                    ),
                    **_errors(401),
                    **_field_errors(422),
                },
                params=[
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["pending", "confirmed", "unsubscribed"]},
                    },
                    {"name": "language", "in": "query", "schema": LANGUAGE},
                ],
                tag="subscribers",
            )
        },
        "/subscribers/export": {
            "get": _op(
                "Export subscribers as CSV",
                {
                    "200": {
                        "description": "CSV: email,languages,confirmed_at (with ?all=1 also pending and unsubscribed)",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **_errors(401),
                    **_field_errors(422),
                },
                params=[
                    {
                        "name": "all",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["1", "true", "yes", "0", "false", "no"]},
                    }
                ],
                tag="subscribers",
            )
        },
        "/subscribers/{id}": {
            "delete": _op(
                "Erase a subscriber and their personal data",
                {"204": {"description": "Erased"}, **_errors(401, 404)},
                params=ID,
                tag="subscribers",
            )
        },
        "/subscribers/erase": {
            "post": _op(
                "Erase by address (in the body, never in a URL)",
                {"204": {"description": "Erased"}, **_errors(401, 404), **_field_errors(422)},
                body={"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}},
                tag="subscribers",
            )
        },
        "/articles": {
            "get": _op(
                "List articles",
                {
                    "200": _json({"type": "object", "properties": {"articles": {"type": "array", "items": article}}}),
                    **_errors(401, 422),
                },
                params=[
                    {"name": "language", "in": "query", "schema": LANGUAGE},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10**9}},
                ],
                tag="articles",
            ),
            "post": _op(
                "Add an article (identified by its URL)",
                {"201": _json(article), **_errors(400, 401, 422)},
                body={"$ref": "#/components/schemas/ArticleInput"},
                tag="articles",
            ),
        },
        "/articles/{id}": {
            "get": _op("Show an article", {"200": _json(article), **_errors(401, 404)}, params=ID, tag="articles"),
            "patch": _op(
                "Change some fields of an article",
                {"200": _json(article), **_errors(400, 401, 404, 422)},
                body={"$ref": "#/components/schemas/ArticleChange"},
                params=ID,
                tag="articles",
            ),
            "put": _op(
                "Change some fields of an article (the same as PATCH)",
                {"200": _json(article), **_errors(400, 401, 404, 422)},
                body={"$ref": "#/components/schemas/ArticleChange"},
                params=ID,
                tag="articles",
            ),
            "delete": _op(
                "Delete an article", {"204": {"description": "Deleted"}, **_errors(401, 404)}, params=ID, tag="articles"
            ),
        },
        "/editions": {
            "get": _op(
                "List editions with status and counts",
                {
                    "200": _json({"type": "object", "properties": {"editions": {"type": "array", "items": edition}}}),
                    **_errors(401, 422),
                },
                params=[
                    {"name": "language", "in": "query", "schema": LANGUAGE},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [status.value for status in EditionStatus]},
                    },
                ],
            ),
            "post": _op(
                "Build a week's editions (idempotent; languages without articles get none)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "week_start": {"type": "string", "format": "date"},
                                "editions": {"type": "array", "items": edition},
                            },
                        }
                    ),
                    **_errors(400, 401, 422),
                },
                body={
                    "type": "object",
                    "required": ["week"],
                    "properties": {"week": WEEK, "languages": {"type": "array", "items": LANGUAGE}},
                },
            ),
        },
        "/editions/{id}": {
            "get": _op("An edition with its delivery counts", {"200": _json(edition), **_errors(401, 404)}, params=ID),
            "patch": _op(
                "Shape a draft or scheduled edition (null restores a default)",
                {"200": _json(edition), **_errors(400, 401, 404, 409, 422)},
                params=ID,
                body={"type": "object", "properties": EDITORIAL},
            ),
        },
        "/editions/{id}/preview": {
            "get": _op(
                "Preview the HTML (or ?format=text the text part), no personal links",
                {
                    "200": {
                        "description": "The rendered edition",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(401, 404),
                },
                params=ID + [{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["html", "text"]}}],
            )
        },
        "/editions/{id}/preview.txt": {
            "get": _op(
                "Preview the text part",
                {
                    "200": {"description": "Text", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    **_errors(401, 404),
                },
                params=ID,
            )
        },
        "/editions/{id}/test": {
            "post": _op(
                "Send a test copy (marked as a test, not counted)",
                {"200": _json({"type": "object"}), **_errors(401, 404, 422, 502)},
                params=ID,
                body={
                    "type": "object",
                    "required": ["recipients"],
                    "properties": {
                        "recipients": {
                            "type": "array",
                            "items": {"type": "string", "format": "email"},
                            "minItems": 1,
                            "maxItems": 10,
                        }
                    },
                },
            )
        },
        "/editions/{id}/send": {
            "post": _op(
                "Send now: enqueue one delivery per confirmed subscriber",
                {
                    "202": _json(
                        {
                            "type": "object",
                            "required": ["id", "status", "queued"],
                            "properties": {
                                "id": {"type": "integer"},
                                "status": {"const": "sending"},
                                "queued": {"type": "integer"},
                            },
                        },
                        "Sending",
                    ),
                    **_errors(401, 404, 409),
                },
                params=ID,
            )
        },
        "/editions/{id}/schedule": {
            "post": _op(
                "Send automatically at a time (no offset: publication zone)",
                {**control, **_errors(422)},
                params=ID,
                body={
                    "type": "object",
                    "required": ["at"],
                    "properties": {
                        "at": {
                            "type": "string",
                            "format": "date-time",
                            "description": "a future time (a time in the past is a 422)",
                        }
                    },
                },
            )
        },
        "/editions/{id}/pause": {"post": _op("Pause a send in progress", send_control, params=ID)},
        "/editions/{id}/resume": {"post": _op("Resume a paused send where it stopped", send_control, params=ID)},
        "/editions/{id}/cancel": {"post": _op("Cancel an edition before or during its send", control, params=ID)},
        "/editions/{id}/retry-failed": {
            "post": _op(
                "Queue the failed deliveries once more",
                {
                    "200": _json({"type": "object", "properties": {"requeued": {"type": "integer"}}}),
                    **_errors(401, 404, 409, 422),
                },
                params=ID,
                body={
                    "type": "object",
                    "properties": {
                        "reason": {
                            "type": "string",
                            "maxLength": 200,
                            "description": "only failures whose reply contains this",
                        }
                    },
                },
            )
        },
        "/suppressions": {
            "get": _op(
                "The suppression list (cause, reason, time, delivery; erased people without address)",
                {"200": _json({"type": "object", "properties": {"suppressions": {"type": "array"}}}), **_errors(401)},
                tag="suppressions",
            ),
            "post": _op(
                "Never mail an address again",
                {
                    "201": _json({"type": "object"}, "Added"),
                    "200": _json({"type": "object"}, "Listed already"),
                    **_errors(401, 422),
                },
                body=EMAIL_BODY,
                tag="suppressions",
            ),
        },
        "/suppressions/remove": {
            "post": _op(
                "Take an address off the suppression list",
                {"204": {"description": "Removed"}, **_errors(401, 404, 422)},
                body=EMAIL_BODY,
                tag="suppressions",
            )
        },
        "/editions/{id}/unschedule": {"post": _op("Return a scheduled edition to draft", control, params=ID)},
        "/editions/{id}/reopen": {
            "post": _op("Return a cancelled edition with no deliveries to draft", control, params=ID)
        },
        "/editions/{id}/unpublish": {"post": _op("Take an edition off the public archive", control, params=ID)},
        "/editions/{id}/publish": {"post": _op("Put an unpublished edition back in the archive", control, params=ID)},
        "/sections": {
            "get": _op(
                "The topic sections in reading order",
                {"200": _json({"type": "object"}), **_errors(401)},
                tag="sections",
            ),
            "put": _op(
                "Replace the sections: [{name, names: {be, ru, en}}] in reading order",
                {"200": _json({"type": "object"}), **_errors(400, 401, 422)},
                tag="sections",
                body=SECTIONS_BODY,
            ),
        },
        "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})}, public=True, tag="meta")},
    }


@api.get("/openapi.json")
def openapi_document():
    return jsonify(
        {
            "openapi": "3.1.0",
            "info": {
                "title": f"{current_app.config['PUBLICATION_NAME']} newsletter API",
                "version": "1.0.0",
                "description": "Subscriptions (public) and the editor API (Bearer token from "
                "`newsletter editors create NAME`).",
            },
            "servers": [{"url": f"{current_app.config['BASE_URL']}/api/v1"}],
            "security": [{"editorToken": []}],
            "components": {
                "securitySchemes": {"editorToken": {"type": "http", "scheme": "bearer"}},
                "schemas": SCHEMAS | openapi_stories.SCHEMAS,
            },
            "paths": describe_roles(_paths() | openapi_stories.paths()),
        }
    )
