"""One role model: every API operation in the OpenAPI document and every console page, checked against the
role table in `newsletter.accounts.roles` with no token, an editor's and an admin's; console and API agree."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.console import csrf_token, sign_in

from newsletter.accounts import roles

ADMIN_ONLY_API = {
    ("DELETE", "/subscribers/{id}"),
    ("POST", "/subscribers/erase"),
    ("GET", "/subscribers"),
    ("GET", "/suppressions"),
    ("POST", "/suppressions/remove"),
}
"""What issue 22 found an editor's token could do though the console keeps it for admins (and the list)."""


def _operations(client) -> list[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").get_json()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _endpoint(app, method: str, path: str) -> str:
    url = "/api/v1" + re.sub(r"\{[^}]+\}", "1", path)
    endpoint, _args = app.url_map.bind("newsletter.test").match(url, method=method)
    return endpoint


def _call(client, method: str, path: str, headers: dict):
    url = "/api/v1" + re.sub(r"\{[^}]+\}", "999999", path)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.open(url, method=method, json=body, headers=headers)


def test_every_api_operation_answers_each_role_as_the_table_says(app, client, editor_headers, admin_headers):
    operations = _operations(client)
    assert len(operations) > 30
    for method, path in operations:
        endpoint = _endpoint(app, method, path)
        action = roles.ENDPOINTS.get(endpoint)
        anonymous = _call(client, method, path, {}).status_code
        as_editor = _call(client, method, path, editor_headers).status_code
        as_admin = _call(client, method, path, admin_headers).status_code
        where = f"{method} {path} ({endpoint})"
        if action is None:  # public: the subscription API and this document
            assert anonymous not in (401, 403), where
            continue
        assert anonymous == 401, where
        assert as_admin not in (401, 403), where
        if roles.ALLOWED[action] == roles.ADMINS:
            assert as_editor == 403, where
        else:
            assert as_editor not in (401, 403), where


def test_the_admin_only_operations_named_in_the_issue_are_refused_to_an_editors_token(
    app, client, editor_headers, admin_headers, add_subscriber
):
    subscriber = add_subscriber("reader@example.org")
    for method, path in ADMIN_ONLY_API:
        assert roles.ENDPOINTS[_endpoint(app, method, path)] in roles.ALLOWED, path
        assert _call(client, method, path, editor_headers).status_code == 403, path
    erase = client.delete(f"/api/v1/subscribers/{subscriber.id}", headers=editor_headers)
    assert erase.status_code == 403 and erase.get_json()["error"]["message"]
    full = client.get("/api/v1/subscribers/export?all=1", headers=editor_headers)
    assert full.status_code == 403
    assert client.get("/api/v1/subscribers/export", headers=editor_headers).status_code == 200
    assert client.get("/api/v1/subscribers/export?all=1", headers=admin_headers).status_code == 200
    assert client.delete(f"/api/v1/subscribers/{subscriber.id}", headers=admin_headers).status_code == 204


def test_every_endpoint_behind_a_token_or_a_session_is_in_the_role_table(app):
    public = {
        "api.create_subscription",
        "api.openapi_document",
        "console.sign_in",
        "console.sign_in_code",
        "console.choose_language",
        "console.static_css",
    }
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith(("api.", "console."))}
    assert endpoints - public == set(roles.ENDPOINTS), "classify new endpoints in newsletter/accounts/roles.py"


def _console_url(app, endpoint: str) -> tuple[str, str]:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    url = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
    return ("GET" if "GET" in rule.methods else "POST"), url


def test_the_console_and_the_api_agree(app, client, make_account, editor_headers):
    """Each admin-only kind of action is refused to an editor in the console (403) as in the API (403)."""
    sign_in(client, make_account("Pavel", role="editor"))
    token = csrf_token(client, "/console/week")
    admin_actions = {action for action, allowed in roles.ALLOWED.items() if allowed == roles.ADMINS}
    for endpoint in roles.admin_only_endpoints():
        action = roles.ENDPOINTS[endpoint]
        if endpoint.startswith("console."):
            method, url = _console_url(app, endpoint)
            response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
        else:
            method, path = next((m, p) for m, p in _operations(client) if _endpoint(app, m, p) == endpoint)
            response = _call(client, method, path, editor_headers)
        assert response.status_code == 403, endpoint
        assert action in admin_actions
    assert client.get("/console/subscribers/export.csv?all=1").status_code == 403
    assert client.get("/console/subscribers/export.csv").status_code == 200


def test_the_readme_tables_every_action_with_the_roles_of_the_code():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Roles", 1)[1].split("\n## ", 1)[0]
    for action, allowed in roles.ALLOWED.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{action}`")), None)
        assert row is not None, f"README: no row for {action}"
        expected = "admin" if allowed == roles.ADMINS else "editor, admin"
        assert f"| {expected} |" in row, row
