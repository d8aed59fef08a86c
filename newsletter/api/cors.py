"""CORS for the subscription API, so the publication's own site can run its sign-up box in the browser.

Only `POST /api/v1/subscriptions`, and only for the origins in `NEWSLETTER_ALLOWED_ORIGINS`: a preflight
from one of them is answered with what the snippet in the README sends (JSON, Accept-Language); any other
origin gets no CORS headers, so browsers keep its pages from reading the answer. No credentials: the
endpoint uses no cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request

from newsletter.core.config import ConfigError

CORS_ENDPOINTS = frozenset({"api.create_subscription"})
PREFLIGHT_MAX_AGE = 600


def parse_origins(raw: object) -> tuple[str, ...]:
    """`https://site.example, http://127.0.0.1:8080` (or a JSON list) as normalised origins; ConfigError otherwise."""
    if raw is None or raw == "":
        return ()
    items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
    origins = []
    for item in items:
        parts = urlsplit(str(item).strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise ConfigError(f"NEWSLETTER_ALLOWED_ORIGINS: {item!r} is not an origin like https://site.example")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(origins)


def cors_headers(response):
    """Allow the configured origins to call the subscription endpoint (and ask first)."""
    if request.endpoint not in CORS_ENDPOINTS:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin not in current_app.config["ALLOWED_ORIGINS_LIST"]:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept-Language"
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    else:
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def init_app(app: Flask) -> None:
    app.config["ALLOWED_ORIGINS_LIST"] = parse_origins(app.config.get("ALLOWED_ORIGINS"))
    app.after_request(cors_headers)
