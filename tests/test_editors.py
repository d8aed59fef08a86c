"""Editors: tokens printed once, only hashes stored, revocation, and the API's bearer check."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.models import Editor


def test_create_prints_a_token_once_and_stores_only_its_hash(runner):
    result = runner.invoke(args=["editors", "create", "Alena"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    editor = db.session.scalar(select(Editor))
    assert editor.name == "Alena" and len(token) >= 40
    assert editor.token_hash == hashlib.sha256(token.encode()).hexdigest()
    listed = runner.invoke(args=["editors", "list"]).output
    assert "Alena" in listed and "active" in listed and token not in listed


def test_create_needs_a_name(runner):
    result = runner.invoke(args=["editors", "create", "  "])
    assert result.exit_code == 1 and "name" in result.output


def test_revoked_token_gets_401(runner, client):
    token = runner.invoke(args=["editors", "create", "Pavel"]).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/editions", headers=headers).status_code == 200
    editor_id = db.session.scalar(select(Editor.id))
    assert runner.invoke(args=["editors", "revoke", str(editor_id)]).exit_code == 0
    response = client.get("/api/v1/editions", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == 401
    assert "revoked" in runner.invoke(args=["editors", "list"]).output
    assert runner.invoke(args=["editors", "revoke", "999"]).exit_code == 1


def test_missing_malformed_or_unknown_tokens_get_401(client, editor_token):
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {editor_token}"},
        {"Authorization": editor_token},
    ):
        response = client.get("/api/v1/editions", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
