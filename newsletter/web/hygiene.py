"""HTTP hygiene for every response: security headers, bounded ids, links built from the route.

- Every response carries a Content-Security-Policy that allows scripts and styles from this site's own
  files and no inline script or style except by this request's nonce (`csp_nonce()` in templates),
  `frame-ancestors 'none'` (the sign-up form may be framed by `NEWSLETTER_ALLOWED_ORIGINS`),
  `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
- Pages reached by a signed link (confirm, unsubscribe, preferences) are never cached: the link is a key.
- `<int:…>` in a route matches only ids a database column can hold; a larger one is a 404, not a 500.
- The language switcher builds its links from the matched route, never from the raw path, so a path like
  `/%5Cevil.example/x` cannot turn into a link to another host.
"""

from __future__ import annotations

import secrets

from flask import Flask, abort, current_app, request, url_for

MAX_ID = 2**31 - 1
"""The largest id an INTEGER primary key holds (PostgreSQL and SQLite alike)."""
TOKEN_ENDPOINTS = frozenset(
    {
        "subscriptions.confirm_link",
        "subscriptions.unsubscribe_link",
        "subscriptions.preferences_link",
    }
)
NONCE_KEY = "newsletter.csp_nonce"
FRAMEABLE_ENDPOINTS = frozenset({"subscriptions.subscribe_form", "subscriptions.subscribe_submit"})


def ids_in_range(_endpoint: str | None, values: dict | None) -> None:
    """A 404 for an `<int:…>` beyond the id columns' range (a bounded converter would make werkzeug say 405)."""
    if values and any(isinstance(value, int) and value > MAX_ID for value in values.values()):
        abort(404)


def csp_nonce() -> str:
    """This request's nonce for inline <script> and <style> elements."""
    nonce = request.environ.get(NONCE_KEY)
    if nonce is None:
        nonce = request.environ[NONCE_KEY] = secrets.token_urlsafe(18)
    return nonce


def language_url(code: str) -> str:
    """This page in another language: the matched route with `lang` set, else the sign-up form."""
    if request.url_rule is not None and request.endpoint and "GET" in (request.url_rule.methods or ()):
        arguments = {**(request.view_args or {}), "lang": code}
        return url_for(request.endpoint, **arguments)
    return url_for("subscriptions.subscribe_form", lang=code)


def _frame_ancestors() -> str:
    origins = current_app.config.get("ALLOWED_ORIGINS_LIST") or ()
    if request.endpoint in FRAMEABLE_ENDPOINTS and origins:
        return " ".join(["'self'", *origins])
    return "'none'"


def _policy() -> str:
    nonce = csp_nonce()
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {_frame_ancestors()}"
    )


def security_headers(response):
    """The headers every response carries; a view's own stricter CSP (an archived edition) is kept."""
    policy = response.headers.get("Content-Security-Policy")
    if policy is None:
        response.headers["Content-Security-Policy"] = _policy()
    elif "frame-ancestors" not in policy:
        response.headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint in TOKEN_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(ids_in_range)
    app.after_request(security_headers)
    app.jinja_env.globals.update(csp_nonce=csp_nonce, language_url=language_url)
