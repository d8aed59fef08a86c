"""Where the OpenAPI document and the behaviour disagreed: each fixed, each checked on its own."""

from __future__ import annotations

import pytest


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def test_duplicate_languages_are_refused_as_the_document_says(client, document):
    assert document["components"]["schemas"]["Subscription"]["properties"]["languages"]["uniqueItems"] is True
    response = client.post("/api/v1/subscriptions", json={"email": "a@example.org", "languages": ["en", "en"]})
    assert response.status_code == 422 and response.get_json()["errors"] == {"languages": "Choose each language once."}


def test_locale_page_and_put_are_documented(document):
    subscription = document["components"]["schemas"]["Subscription"]["properties"]
    assert {"locale", "page"} <= set(subscription)
    assert "put" in document["paths"]["/articles/{id}"]


def test_article_answers_with_id_fit_the_article_schema(document):
    article = document["components"]["schemas"]["Article"]
    assert "id" in article["properties"] and article.get("additionalProperties", True) is not False


def test_pause_resume_and_send_answers_are_described(document):
    for action in ("pause", "resume"):
        schema = document["paths"][f"/editions/{{id}}/{action}"]["post"]["responses"]["200"]["content"]
        assert schema["application/json"]["schema"]["required"] == ["id", "status", "counts"]
    send = document["paths"]["/editions/{id}/send"]["post"]["responses"]["202"]["content"]["application/json"]
    assert set(send["schema"]["properties"]) == {"id", "status", "queued"}


@pytest.mark.parametrize(
    "name, value",
    [
        ("limit", " 5"),
        ("limit", "+5"),
        ("limit", "-1"),
        ("limit", "５"),
        ("limit", "1001"),
        ("offset", "1e3"),
        ("offset", "9" * 30),
    ],
)
def test_limit_and_offset_are_whole_numbers_or_422(client, editor_headers, name, value):
    response = client.get("/api/v1/articles", query_string={name: value}, headers=editor_headers)
    assert response.status_code == 422 and name in response.get_json()["error"]["fields"]


def test_limit_and_offset_within_range_work(client, editor_headers):
    assert client.get("/api/v1/articles?limit=0&offset=0", headers=editor_headers).status_code == 200
    assert client.get("/api/v1/articles?limit=1000&offset=1000000000", headers=editor_headers).status_code == 200


@pytest.mark.parametrize("value, status", [("1", 200), ("no", 200), ("maybe", 422), ("2", 422)])
def test_export_all_is_a_yes_or_no(client, admin_headers, value, status):
    assert client.get(f"/api/v1/subscribers/export?all={value}", headers=admin_headers).status_code == status
