"""newsletter: a self-hosted weekly newsletter service.

The flow, one module each: subscriptions -> editions -> rendering -> delivery (ledger, worker, smtp).
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class NewsletterFlask(Flask):
    """Flask that also autoescapes MJML email templates (they are HTML too)."""

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        return filename is None or filename.endswith((".html", ".htm", ".xml", ".mjml"))


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask application; `config` overrides the environment (used by tests)."""
    from . import config as config_module
    from . import database, i18n, confirmation_mail, rate_limits, web, api, cli, console, log_limits

    instance_path = (config or {}).get("INSTANCE_PATH")
    app = NewsletterFlask(
        __name__,
        instance_path=str(instance_path) if instance_path else str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    config_module.load_config(app, config)
    proxy_hops = int(app.config["PROXY_HOPS"] or 0)
    if proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_limits.limit_repeats()
    database.init_app(app)
    i18n.init_app(app)
    rate_limits.init_app(app)
    confirmation_mail.init_app(app)
    web.init_app(app)
    api.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    return app
