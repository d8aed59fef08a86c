"""Public web pages: blueprints, error pages, health check."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from newsletter.api.responses import error_response
from newsletter.core.extensions import csrf
from newsletter.web import health, hygiene, metrics, pages, webhooks


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error_titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        404: _("This page does not exist."),
        405: _("This method is not allowed here."),
        413: _("The request is too large."),
        429: _("Too many requests. Please try again later."),
        500: _("Something went wrong on our side. Please try again later."),
    }


def handle_http_error(error: HTTPException):
    code = error.code or 500
    message = _error_titles().get(code, error.description or "")
    allowed = getattr(error, "valid_methods", None) if isinstance(error, MethodNotAllowed) else None
    headers = {"Allow": ", ".join(sorted(allowed))} if allowed else {}
    if _wants_json():
        response = error_response(code, message)
        response.headers.update(headers)
        return response
    return render_template("pages/error.html", code=code, message=message), code, headers


def handle_unexpected_error(error: Exception):
    logging.getLogger(__name__).exception("unhandled error on %s", request.path)
    return handle_http_error(InternalServerError())


def init_app(app: Flask) -> None:
    hygiene.init_app(app)
    csrf.init_app(app)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
    health.init_app(app)
    metrics.init_app(app)
    pages.init_app(app)
    webhooks.init_app(app)
