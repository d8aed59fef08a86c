"""`POST /webhooks/bounces/<provider>`: relays that report bounces and complaints by HTTP."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from newsletter.bounces import rules, webhooks
from newsletter.core.extensions import csrf

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.errorhandler(webhooks.WebhookRejected)
def _rejected(error: webhooks.WebhookRejected):
    return jsonify({"error": {"code": error.status, "message": error.message}}), error.status


@bp.post("/bounces/<provider>")
def bounces(provider: str):
    """Verify, parse, record: 200 with the outcome of each report; a refused request changes nothing."""
    settings = webhooks.WebhookSettings.from_config(current_app.config)
    reports = webhooks.reports_for(provider, request.get_data(cache=False), request.headers, settings)
    bounce_rules = rules.BounceRules.from_config(current_app.config)
    outcomes = [rules.handle(report, bounce_rules, source=f"webhook:{provider}") for report in reports]
    return jsonify({"received": len(reports), "outcomes": [str(outcome) for outcome in outcomes]})


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
