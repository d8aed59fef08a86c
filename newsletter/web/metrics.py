"""`GET /metrics`: off unless NEWSLETTER_METRICS_TOKEN is set, then only with that bearer token."""

from __future__ import annotations

import hmac

from flask import Flask, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from newsletter.operations import metrics


def _authorised(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def init_app(app: Flask) -> None:
    @app.get("/metrics")
    def prometheus_metrics():
        token = current_app.config.get("METRICS_TOKEN")
        if not token:
            abort(404)
        if not _authorised(str(token)):
            return Response(
                "a valid bearer token is required\n",
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
                mimetype="text/plain",
            )
        try:
            body = metrics.exposition()
        except SQLAlchemyError as error:
            return Response(
                f"database unavailable: {type(error).__name__}\n", 503, {"Retry-After": "10"}, mimetype="text/plain"
            )
        return Response(body, content_type=CONTENT_TYPE_LATEST)
