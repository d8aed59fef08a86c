"""The editors' web console under /console/: server-rendered pages over the same services as the API and CLI.

Every action is a plain form POST (htmx only enhances), every route needs a session (admin routes the
admin role), and every page is sent with `Cache-Control: no-store` and a strict nonce-based CSP.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/console")


def init_app(app: Flask) -> None:
    from newsletter.console import (  # noqa: F401
        account,
        activity_log,
        articles,
        auth,
        editions,
        editors,
        errors,
        sections,
        security,
        sending,
        subscribers,
        week,
    )

    security.init_app(app)
    app.register_blueprint(bp)
