"""What the OpenAPI document says, the API does: inputs the document forbids are refused with a 422.

Each case here was accepted before (issue 22): an empty query value meant "absent", a `reason` over its
`maxLength` was stored, `names: false` on a section passed for "no names", a non-text `locale` was ignored.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/articles?offset=",
        "/api/v1/articles?limit=",
        "/api/v1/articles?language=",
        "/api/v1/editions?language=",
        "/api/v1/editions?status=",
        "/api/v1/subscribers/export?all=",
    ],
)
def test_an_empty_query_value_is_refused_not_taken_for_absent(client, editor_headers, path):
    response = client.get(path, headers=editor_headers)
    assert response.status_code == 422
    [field] = (response.get_json().get("error", {}).get("fields") or response.get_json().get("errors")).keys()
    assert field == path.rpartition("?")[2].rstrip("=")


def test_absent_query_values_keep_their_defaults(client, editor_headers):
    for path in ("/api/v1/articles", "/api/v1/editions", "/api/v1/subscribers/export"):
        assert client.get(path, headers=editor_headers).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/suppressions", "/api/v1/suppressions/remove"])
@pytest.mark.parametrize("reason", ["x" * 501, 5, ["spam"]])
def test_a_suppression_reason_over_its_length_or_not_text_is_refused(client, admin_headers, path, reason):
    # an admin's token: removal and the list are admin-only (the role table), adding is anyone's
    response = client.post(path, json={"email": "reader@example.org", "reason": reason}, headers=admin_headers)
    assert response.status_code == 422
    assert "reason" in response.get_json()["error"]["fields"]
    assert client.get("/api/v1/suppressions", headers=admin_headers).get_json()["suppressions"] == []


def test_a_suppression_reason_at_its_length_is_kept(client, editor_headers):
    response = client.post(
        "/api/v1/suppressions", json={"email": "reader@example.org", "reason": "x" * 500}, headers=editor_headers
    )
    assert response.status_code == 201


@pytest.mark.parametrize("names", [False, 0, "", []])
def test_section_names_that_are_not_an_object_are_refused(client, editor_headers, names):
    body = {"sections": [{"name": "Economy", "names": names}]}
    response = client.put("/api/v1/sections", json=body, headers=editor_headers)
    assert response.status_code == 422
    assert "sections[0].names" in response.get_json()["error"]["fields"]


def test_section_names_null_means_none(client, editor_headers):
    body = {"sections": [{"name": "Economy", "names": None}]}
    assert client.put("/api/v1/sections", json=body, headers=editor_headers).status_code == 200


@pytest.mark.parametrize(("field", "value"), [("locale", False), ("locale", 3), ("page", None), ("page", ["/"])])
def test_subscription_fields_that_must_be_text_are_refused(client, field, value):
    body = {"email": "reader@example.org", "languages": ["en"], field: value}
    response = client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]


def test_the_document_says_what_the_api_refuses(client, editor_headers):
    """A blank title, lead article 0 and a past send time are refused, so the document must not allow them."""
    document = client.get("/api/v1/openapi.json").get_json()
    title = document["components"]["schemas"]["ArticleInput"]["properties"]["title"]
    assert title["minLength"] == 1 and title["pattern"] == "\\S"
    edition = document["paths"]["/editions/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert edition["properties"]["lead_article_id"]["minimum"] == 1
    schedule = document["paths"]["/editions/{id}/schedule"]["post"]
    assert (
        "future" in schedule["requestBody"]["content"]["application/json"]["schema"]["properties"]["at"]["description"]
    )
    assert "422" in schedule["responses"]
    blank = {"language": "en", "section": "Economy", "title": "  ", "summary": "s", "url": "https://example.org/a"}
    response = client.post(
        "/api/v1/articles", json={**blank, "published_at": "2026-01-05T10:00:00+00:00"}, headers=editor_headers
    )
    assert response.status_code == 422 and "title" in response.get_json()["error"]["fields"]
