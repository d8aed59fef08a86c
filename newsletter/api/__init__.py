"""JSON API under /api/v1: public subscriptions and the editor API."""
from __future__ import annotations

from flask import Blueprint, Flask

from newsletter.core.extensions import csrf

api = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from newsletter.api import articles, editions, openapi  # noqa: F401  (register the editor API routes)
    from newsletter.api import subscribers, subscriptions  # noqa: F401  (public subscriptions, editor subscribers API)
    from newsletter.api import sending  # noqa: F401  (pause and resume an edition's send)
    from newsletter.api import suppressions  # noqa: F401  (the suppression list)
    from newsletter.api import sections  # noqa: F401  (the topic sections)
    from newsletter.api import errors
    from newsletter.api import cors

    errors.register(app)

    from newsletter.api import audit  # noqa: F401  (records successful changes in the activity log)
    csrf.exempt(api)
    app.register_blueprint(api)
    cors.init_app(app)
