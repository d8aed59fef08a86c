"""Editor API for editions: build, list with counts, preview, test send, send, schedule, cancel."""

from __future__ import annotations

import email
import re
from email.policy import default

from sqlalchemy import func, select

from newsletter.core.extensions import db
from newsletter.models import Delivery


def build(client, headers, **body):
    return client.post("/api/v1/editions", json={"week": "2022-01-10", **body}, headers=headers)


def test_build_then_list_and_show_with_counts(client, editor_headers, imported_samples):
    response = build(client, editor_headers)
    assert response.status_code == 200
    built = response.get_json()["editions"]
    assert sorted((e["language"], e["article_count"]) for e in built) == [("be", 3), ("en", 4), ("ru", 4)]
    again = build(client, editor_headers).get_json()["editions"]
    assert sorted(e["id"] for e in again) == sorted(e["id"] for e in built)
    listed = client.get("/api/v1/editions", headers=editor_headers).get_json()["editions"]
    assert len(listed) == 3 and all(e["status"] == "draft" for e in listed)
    shown = client.get(f"/api/v1/editions/{built[0]['id']}", headers=editor_headers).get_json()
    assert shown["counts"]["queued"] == 0 and shown["counts"]["sent"] == 0


def test_list_filters_by_language_and_status_and_refuses_unknown_ones(client, editor_headers, built_week):
    def listed(query: str):
        return client.get(f"/api/v1/editions?{query}", headers=editor_headers)

    assert [e["language"] for e in listed("language=ru&status=draft").get_json()["editions"]] == ["ru"]
    assert listed("status=sent").get_json()["editions"] == []
    for query, field in (("language=de", "language"), ("status=finished", "status")):
        response = listed(query)
        assert response.status_code == 422
        assert "must be one of" in response.get_json()["error"]["fields"][field]


def test_build_with_bad_input(client, editor_headers):
    assert build(client, editor_headers, week="soon").status_code == 422
    far = build(client, editor_headers, week="9999-12-31")
    assert far.status_code == 422 and "1900 to 2999" in far.get_json()["error"]["fields"]["week"]
    assert build(client, editor_headers, languages=["de"]).get_json()["error"]["fields"]["languages"]
    assert client.post("/api/v1/editions", data="nope", headers=editor_headers).status_code == 400


def test_preview_html_and_text_without_personal_links(client, editor_headers, built_week):
    edition_id = built_week["en"].id
    html = client.get(f"/api/v1/editions/{edition_id}/preview", headers=editor_headers)
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert b"January 10" in html.data and b"__UNSUBSCRIBE_URL__" not in html.data
    text = client.get(f"/api/v1/editions/{edition_id}/preview?format=text", headers=editor_headers)
    assert text.mimetype == "text/plain" and "Read more: https://example.org/en/2022/01/potash-route" in text.text
    assert client.get(f"/api/v1/editions/{edition_id}/preview.txt", headers=editor_headers).text == text.text


def test_missing_edition_is_404_everywhere(client, editor_headers):
    for method, path in (
        ("get", ""),
        ("get", "/preview"),
        ("post", "/send"),
        ("post", "/test"),
        ("post", "/schedule"),
        ("post", "/cancel"),
    ):
        response = getattr(client, method)(f"/api/v1/editions/4242{path}", json={}, headers=editor_headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == 404


def test_calls_without_a_token_are_401_and_change_nothing(client, built_week):
    edition_id = built_week["en"].id
    assert client.post(f"/api/v1/editions/{edition_id}/send").status_code == 401
    assert client.get(f"/api/v1/editions/{edition_id}/preview").status_code == 401
    assert built_week["en"].status == "draft"


def test_send_is_202_then_409_and_nothing_is_enqueued_twice(client, editor_headers, built_week, make_subscriber):
    make_subscriber("one@example.org", ["ru"])
    make_subscriber("two@example.org", ["ru", "en"])
    edition_id = built_week["ru"].id
    first = client.post(f"/api/v1/editions/{edition_id}/send", headers=editor_headers)
    assert first.status_code == 202 and first.get_json()["queued"] == 2
    second = client.post(f"/api/v1/editions/{edition_id}/send", headers=editor_headers)
    assert second.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 2
    shown = client.get(f"/api/v1/editions/{edition_id}", headers=editor_headers).get_json()
    assert shown["status"] == "sending" and shown["counts"]["queued"] == 2


def test_schedule_then_cancel_before_sending(client, editor_headers, built_week):
    edition_id = built_week["be"].id
    bad = client.post(f"/api/v1/editions/{edition_id}/schedule", json={"at": "tomorrow"}, headers=editor_headers)
    assert bad.status_code == 422
    scheduled = client.post(
        f"/api/v1/editions/{edition_id}/schedule", json={"at": "2030-01-07T09:00:00+03:00"}, headers=editor_headers
    )
    assert scheduled.status_code == 200
    assert scheduled.get_json()["status"] == "scheduled"
    assert scheduled.get_json()["scheduled_for"] == "2030-01-07T09:00:00+03:00", "shown in the publication zone"
    cancelled = client.post(f"/api/v1/editions/{edition_id}/cancel", headers=editor_headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/editions/{edition_id}/send", headers=editor_headers).status_code == 409
    assert (
        client.post(
            f"/api/v1/editions/{edition_id}/schedule", json={"at": "2030-01-07T09:00:00"}, headers=editor_headers
        ).status_code
        == 409
    )


def test_test_send_reaches_the_addresses_marked_as_test_and_is_not_counted(
    smtp_app_config, client, editor_headers, built_week, smtp_server
):
    edition_id = built_week["ru"].id
    response = client.post(
        f"/api/v1/editions/{edition_id}/test", json={"recipients": ["editor@example.org"]}, headers=editor_headers
    )
    assert response.status_code == 200, response.get_json()
    assert [m.recipients for m in smtp_server.messages] == [["editor@example.org"]]
    message = email.message_from_bytes(smtp_server.messages[0].data, policy=default)
    assert "[" in str(message["Subject"]) and "10—16 января 2022" in str(message["Subject"])
    assert message.get_content_type() == "multipart/alternative"
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    shown = client.get(f"/api/v1/editions/{edition_id}", headers=editor_headers).get_json()
    assert shown["status"] == "draft" and shown["counts"].get("sent", 0) == 0


def test_test_send_with_bad_recipients_is_422(client, editor_headers, built_week):
    edition_id = built_week["ru"].id
    for body in ({}, {"recipients": []}, {"recipients": ["not an address"]}, {"recipients": ["a@b.org"] * 11}):
        assert client.post(f"/api/v1/editions/{edition_id}/test", json=body, headers=editor_headers).status_code == 422


def test_test_send_validates_addresses_like_subscriptions(client, editor_headers, built_week):
    edition_id = built_week["ru"].id
    headers = {**editor_headers, "Accept-Language": "en"}
    for address, explanation in (
        ("тест@example.org", "non-Latin letters"),
        ("editor@example.org\r\nBcc: x@example.org", "line breaks"),
    ):
        response = client.post(f"/api/v1/editions/{edition_id}/test", json={"recipients": [address]}, headers=headers)
        assert response.status_code == 422
        assert explanation in response.get_json()["error"]["fields"]["recipients"]


def test_openapi_document_covers_every_api_route_and_method(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {re.sub(r"\{[^}]+\}", "{}", path): path for path in document["paths"]}  # parameter names aside
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<[^>]+>", "{}", rule.rule.removeprefix("/api/v1"))
        assert path in documented, rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS", "PUT"}:
            assert method.lower() in document["paths"][documented[path]], (method, rule.rule)
    for needed in (
        "/subscriptions",
        "/subscribers",
        "/editions/{id}/pause",
        "/editions/{id}/resume",
        "/editions/{id}/cancel",
        "/editions/{id}/send",
    ):
        assert needed in document["paths"]


def test_cancel_cli_and_api_also_stop_a_send_in_progress(client, runner, editor_headers, built_week, make_subscriber):
    make_subscriber("reader@example.org", ["ru", "en"])
    for code in ("ru", "en"):
        client.post(f"/api/v1/editions/{built_week[code].id}/send", headers=editor_headers)
    response = client.post(f"/api/v1/editions/{built_week['ru'].id}/cancel", headers=editor_headers)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert response.get_json()["counts"]["cancelled"] == 1
    result = runner.invoke(args=["editions", "cancel", str(built_week["en"].id)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["editions", "schedule", str(built_week["en"].id), "--at", "2030-01-01T09:00"])
    assert again.exit_code == 1 and "cancelled" in again.output
    assert runner.invoke(args=["editions", "schedule", str(built_week["be"].id), "--at", "soon"]).exit_code == 2
    far = runner.invoke(args=["editions", "schedule", str(built_week["be"].id), "--at", "9999-12-31T23:59:59-05:00"])
    assert far.exit_code == 2 and "--at" in far.output


def test_odd_json_never_causes_a_server_error(client, editor_headers, built_week):
    edition_id = built_week["en"].id
    article_id = client.post(
        "/api/v1/articles",
        headers=editor_headers,
        json={
            "language": "en",
            "section": "S",
            "title": "T",
            "summary": "S.",
            "url": "https://example.org/odd",
            "published_at": "2022-01-12T12:00:00Z",
        },
    ).get_json()["id"]
    calls = [
        ("post", "/api/v1/editions", {"week": 123, "languages": "ru"}),
        ("post", "/api/v1/editions", ["2022-01-10"]),
        ("post", "/api/v1/editions", {"week": None}),
        ("post", f"/api/v1/editions/{edition_id}/schedule", {"at": 5}),
        ("post", f"/api/v1/editions/{edition_id}/schedule", ["x"]),
        ("post", f"/api/v1/editions/{edition_id}/test", {"recipients": "a@example.org"}),
        ("post", f"/api/v1/editions/{edition_id}/test", {"recipients": [None, {}]}),
        ("post", "/api/v1/articles", [1, 2]),
        ("post", "/api/v1/articles", {"language": ["en"], "title": {"x": 1}, "published_at": 17}),
        ("patch", f"/api/v1/articles/{article_id}", ["x"]),
        ("patch", f"/api/v1/articles/{article_id}", {"url": None}),
        ("get", "/api/v1/articles?limit=abc&offset=-5", None),
        ("get", "/api/v1/editions?language=xx", None),
        ("post", "/api/v1/editions", {"week": "9999-12-31"}),
        ("post", "/api/v1/editions", {"week": "0001-01-02"}),
        ("post", f"/api/v1/editions/{edition_id}/schedule", {"at": "9999-12-31T23:59:59-05:00"}),
        ("post", f"/api/v1/editions/{edition_id}/schedule", {"at": "0001-01-01T00:00:00"}),
        ("post", f"/api/v1/editions/{edition_id}/test", {"recipients": ["a@example.org\r\nBcc: b@example.org"]}),
        (
            "post",
            "/api/v1/articles",
            {
                "language": "en",
                "section": "S",
                "title": "T",
                "summary": "S.",
                "url": "https://example.org/year-one",
                "published_at": "0001-01-01T00:00:00+05:00",
            },
        ),
        ("patch", f"/api/v1/articles/{article_id}", {"published_at": "9999-12-31T23:59:59-05:00"}),
        ("get", "/api/v1/subscribers?page=99999999999999999999", None),
        ("get", "/api/v1/subscribers?page=1&per_page=99999999999999999999", None),
    ]
    for method, path, body in calls:
        response = getattr(client, method)(path, json=body, headers=editor_headers)
        assert 200 <= response.status_code < 500, (path, body, response.status_code)
        assert response.is_json or response.status_code == 200
    oversize = client.post(
        "/api/v1/articles", data="x" * (70 * 1024), content_type="application/json", headers=editor_headers
    )
    assert oversize.status_code == 413


def _api_calls_with_a_body(app, ids: dict[str, int]) -> list[tuple[str, str]]:
    """Every /api/v1 route that takes a method with a body, ids filled in; deletions last."""
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule
        for name in rule.arguments:
            owner = "articles" if "/articles/" in path else "subscribers" if "/subscribers/" in path else "editions"
            path = path.replace(f"<int:{name}>", str(ids[owner]))
        calls += [(method, path) for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"})]
    return sorted(calls, key=lambda call: call[0] == "DELETE")


def test_deeply_nested_json_is_never_a_server_error_on_any_endpoint(
    app, client, editor_headers, built_week, make_subscriber
):
    article = client.post(
        "/api/v1/articles",
        headers=editor_headers,
        json={
            "language": "en",
            "section": "S",
            "title": "T",
            "summary": "S.",
            "url": "https://example.org/deep",
            "published_at": "2022-01-12T12:00:00Z",
        },
    ).get_json()
    ids = {
        "editions": built_week["en"].id,
        "articles": article["id"],
        "subscribers": make_subscriber("reader@example.org", ["en"]).id,
    }
    nested = b"[" * 30000 + b"]" * 30000
    calls = _api_calls_with_a_body(app, ids)
    assert ("POST", "/api/v1/subscriptions") in calls and ("POST", "/api/v1/subscribers/erase") in calls
    for method, path in calls:
        response = client.open(
            path, method=method, data=nested, content_type="application/json", headers=editor_headers
        )
        assert response.status_code < 500, (method, path, response.status_code)
        assert response.status_code in (200, 202, 204) or response.is_json, (method, path)
