"""Registers the public blueprints; each part of the site adds its own module here."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Blueprints for the subscription pages and the archive are registered here."""
    from newsletter.web.subscriptions import bp as subscription_pages

    app.register_blueprint(subscription_pages)
    from newsletter.web import archive

    app.register_blueprint(archive.blueprint)
    from newsletter.web import address_unsubscribe, reader

    app.register_blueprint(address_unsubscribe.bp)

    reader.init_app(app)
