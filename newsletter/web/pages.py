"""Registers the public blueprints; each part of the site adds its own module here."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Blueprints for the subscription pages and the archive are registered here."""
