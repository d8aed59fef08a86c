"""`/healthz` (cheap: the database answers and its schema is current) and `/readyz` (plus heartbeats, SMTP).

Both answer JSON that names each part, 200 when all are well and 503 otherwise, so a load balancer or a
monitor can act on the status code and an operator can read which part is wrong.
"""

from __future__ import annotations

from flask import Flask, jsonify

from newsletter.operations import health, heartbeats


def _database() -> dict:
    try:
        health.check_database()
    except health.NotReady as error:
        return {"status": "failing", "problem": str(error)}
    return {"status": "ok"}


def _answer(parts: dict):
    healthy = all(part["status"] == "ok" for part in parts.values())
    return jsonify({"status": "ok" if healthy else "unavailable", **parts}), 200 if healthy else 503


def init_app(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """`{"status": "ok"}` as before; a failing answer names the problem."""
        database = _database()
        if database["status"] == "ok":
            return jsonify({"status": "ok"})
        return _answer({"database": database})

    @app.get("/readyz")
    def readyz():
        parts = {"database": _database()}
        if parts["database"]["status"] == "ok":
            parts.update(heartbeats.readiness())
            # paused editions are news for the operator, not a reason to take this process out of service
            parts["sending"] = {"status": "ok", "paused": health.paused_editions()}
        return _answer(parts)
