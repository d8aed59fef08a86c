"""The floor for `bench/subscribe.py`: a bare Flask app doing the same validate-insert-sign as the subscribe API.

It validates the JSON body (an address with email-validator, a list of known languages), inserts one row
into a SQLite table, signs a confirmation token with itsdangerous and answers 202 with a JSON body; no
limiter, no Babel, no session, no ORM, no security headers. Served by the same gunicorn as the real app:
`gunicorn bench.bare_subscribe:app` with `BARE_DATABASE` naming the SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from email_validator import EmailNotValidError, validate_email
from flask import Flask, jsonify, request
from itsdangerous import URLSafeTimedSerializer

LANGUAGES = ("be", "ru", "en")
app = Flask(__name__)
signer = URLSafeTimedSerializer(os.environ.get("BARE_SECRET", "bench-secret-key-of-at-least-32-bytes"), salt="confirm")
local = threading.local()


def _connection() -> sqlite3.Connection:
    if not hasattr(local, "connection"):
        local.connection = sqlite3.connect(os.environ["BARE_DATABASE"], timeout=30)
        local.connection.execute("PRAGMA journal_mode=WAL")
        local.connection.execute(
            "CREATE TABLE IF NOT EXISTS subscribers (id INTEGER PRIMARY KEY, email TEXT UNIQUE, languages TEXT)"
        )
    return local.connection


@app.post("/api/v1/subscriptions")
def subscribe():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"errors": {"body": "not a JSON object"}}), 422
    languages = body.get("languages")
    if not isinstance(languages, list) or not languages or not all(code in LANGUAGES for code in languages):
        return jsonify({"errors": {"languages": "choose be, ru or en"}}), 422
    try:
        address = validate_email(str(body.get("email")), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return jsonify({"errors": {"email": "not a valid address"}}), 422
    connection = _connection()
    with connection:
        cursor = connection.execute(
            "INSERT INTO subscribers (email, languages) VALUES (?, ?) ON CONFLICT(email) DO NOTHING",
            (address, " ".join(languages)),
        )
    signer.dumps([cursor.lastrowid, address])
    return jsonify({"status": "accepted", "message": "Check your inbox"}), 202
