"""JSON API under /api/v1: public subscriptions and the editor API."""
from __future__ import annotations

from flask import Blueprint, Flask

from ..extensions import csrf

api = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from . import articles, editions, openapi  # noqa: F401  (register the editor API routes)
    from . import subscribers, subscriptions  # noqa: F401  (public subscriptions, editor subscribers API)
    from . import sending  # noqa: F401  (pause and resume an edition's send)
    from . import suppressions  # noqa: F401  (the suppression list)
    from . import sections  # noqa: F401  (the topic sections)
    from . import errors
    from . import cors

    errors.register(app)

    from . import audit  # noqa: F401  (records successful changes in the activity log)
    csrf.exempt(api)
    app.register_blueprint(api)
    cors.init_app(app)
