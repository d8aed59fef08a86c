"""JSON API under /api/v1: public subscriptions and the editor API."""

from __future__ import annotations

from flask import Blueprint, Flask

from newsletter.core.extensions import csrf

api = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from newsletter.api import (  # noqa: F401  (register the editor API routes)  # noqa: F401  (public subscriptions, editor subscribers API)
        articles,
        cors,
        editions,
        errors,
        openapi,
        sections,  # noqa: F401  (the topic sections)
        sending,  # noqa: F401  (pause and resume an edition's send)
        stories,  # noqa: F401  (stories: decisions once per story, linking translations)
        subscribers,
        subscriptions,
        suppressions,  # noqa: F401  (the suppression list)
        weeks,  # noqa: F401  (sending a week)
    )

    errors.register(app)

    from newsletter.api import audit  # noqa: F401  (records successful changes in the activity log)

    csrf.exempt(api)
    app.register_blueprint(api)
    cors.init_app(app)
