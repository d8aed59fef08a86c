"""Articles: import (all or nothing, by URL), validation of every field, the CLI and the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from newsletter.content.articles import ImportInvalid, import_json
from newsletter.core.extensions import db
from newsletter.models import Article, Story

GOOD = {
    "language": "en",
    "section": "Economy",
    "title": "A title",
    "summary": "A summary.",
    "url": "https://example.org/en/a",
    "published_at": "2022-01-12T12:00:00+03:00",
}


def article_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Article))


def test_sample_file_imports_and_reimport_changes_nothing(app, samples_path):
    first = import_json(samples_path.read_bytes())
    second = import_json(samples_path.read_bytes())
    assert (first.created, second.created, second.updated, second.unchanged) == (13, 0, 0, 13)
    assert article_count() == 13


def test_reimport_with_a_changed_title_updates_that_article_only(app):
    import_json(json.dumps({"articles": [GOOD]}))
    result = import_json(json.dumps({"articles": [{**GOOD, "title": "New title"}]}))
    assert (result.created, result.updated) == (0, 1)
    assert db.session.scalar(select(Article.title)) == "New title"


def test_published_time_is_stored_in_utc(app):
    import_json(json.dumps({"articles": [GOOD]}))
    stored = db.session.scalar(select(Article.published_at))
    assert stored.isoformat() == "2022-01-12T09:00:00+00:00"


def test_a_file_that_is_not_json_imports_nothing(app):
    with pytest.raises(ImportInvalid, match="not valid JSON"):
        import_json(b"language,title\nen,oops\n")
    assert article_count() == 0


def test_json_without_a_list_of_articles_is_refused(app):
    with pytest.raises(ImportInvalid, match="list of articles"):
        import_json(json.dumps({"articles": "none"}))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"language": "de"}, "language", "must be one of"),
        ({"title": ""}, "title", "required"),
        ({"summary": None}, "summary", "required"),
        ({"section": 7}, "section", "string"),
        ({"published_at": "2022-01-12T12:00:00"}, "published_at", "no time zone"),
        ({"published_at": "last tuesday"}, "published_at", "ISO 8601"),
        ({"published_at": "0001-01-01T00:00:00+05:00"}, "published_at", "years 1900 to 2999"),
        ({"published_at": "9999-12-31T23:59:59-05:00"}, "published_at", "years 1900 to 2999"),
        ({"published_at": "1850-06-01T00:00:00Z"}, "published_at", "years 1900 to 2999"),
        ({"url": "javascript:alert(1)"}, "url", "http or https"),
        ({"url": "ftp://example.org/x"}, "url", "http or https"),
        ({"url": 'https://example.org/"><script>'}, "url", "http or https"),
        ({"title": "x" * 501}, "title", "longer than"),
        ({"colour": "red"}, "fields", "unknown"),
    ],
)
def test_bad_article_fields_are_reported_and_nothing_is_imported(app, change, field, message):
    items = [GOOD, {**GOOD, "url": "https://example.org/en/b", **change}]
    with pytest.raises(ImportInvalid) as raised:
        import_json(json.dumps({"articles": items}))
    assert message in raised.value.problems["1"][field]
    assert "0" not in raised.value.problems
    assert article_count() == 0


def test_every_bad_article_is_reported_by_index(app):
    items = [{**GOOD, "language": "xx"}, GOOD, {"title": "only a title"}]
    with pytest.raises(ImportInvalid) as raised:
        import_json(json.dumps({"articles": items}))
    problems = raised.value.problems
    assert set(problems) == {"0", "2"}
    assert {"language", "section", "summary", "url", "published_at"} <= set(problems["2"])
    assert "article 0: language" in str(raised.value)


def test_the_same_url_twice_in_one_file_is_refused(app):
    with pytest.raises(ImportInvalid) as raised:
        import_json(json.dumps({"articles": [GOOD, GOOD]}))
    assert "twice" in raised.value.problems["1"]["url"]


def test_cli_import_reports_counts_then_problems(runner, tmp_path, samples_path):
    result = runner.invoke(args=["articles", "import", str(samples_path)])
    assert result.exit_code == 0, result.output
    assert "13 created" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(args=["articles", "import", str(bad)])
    assert result.exit_code == 1
    assert "nothing imported" in result.output and "not valid JSON" in result.output
    result = runner.invoke(args=["articles", "import", str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_api_adds_lists_updates_and_deletes_articles(client, editor_headers):
    created = client.post("/api/v1/articles", json=GOOD, headers=editor_headers)
    assert created.status_code == 201
    article_id = created.get_json()["id"]
    listed = client.get("/api/v1/articles?language=en", headers=editor_headers).get_json()["articles"]
    assert [a["url"] for a in listed] == [GOOD["url"]]
    unknown = client.get("/api/v1/articles?language=de", headers=editor_headers)
    assert unknown.status_code == 422 and "language" in unknown.get_json()["error"]["fields"]
    changed = client.patch(f"/api/v1/articles/{article_id}", json={"title": "Changed"}, headers=editor_headers)
    assert changed.status_code == 200 and changed.get_json()["title"] == "Changed"
    assert client.delete(f"/api/v1/articles/{article_id}", headers=editor_headers).status_code == 204
    assert client.get(f"/api/v1/articles/{article_id}", headers=editor_headers).status_code == 404


def test_api_refuses_bad_articles_with_field_errors(client, editor_headers):
    response = client.post(
        "/api/v1/articles", json={**GOOD, "url": "javascript:alert(1)", "language": "de"}, headers=editor_headers
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"url", "language"}
    assert (
        client.post(
            "/api/v1/articles", data="{oops", content_type="application/json", headers=editor_headers
        ).status_code
        == 400
    )
    assert client.post("/api/v1/articles", json=GOOD, headers=editor_headers).status_code == 201
    duplicate = client.post("/api/v1/articles", json=GOOD, headers=editor_headers)
    assert duplicate.status_code == 422 and "already exists" in duplicate.get_json()["error"]["fields"]["url"]
    assert article_count() == 1


def test_api_update_with_bad_fields_changes_nothing(client, editor_headers):
    article_id = client.post("/api/v1/articles", json=GOOD, headers=editor_headers).get_json()["id"]
    response = client.patch(
        f"/api/v1/articles/{article_id}", json={"title": "", "published_at": "2022-01-01"}, headers=editor_headers
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Article, article_id).title == "A title"


def test_articles_api_needs_a_token(client):
    assert client.get("/api/v1/articles").status_code == 401
    assert client.post("/api/v1/articles", json=GOOD).status_code == 401
    assert article_count() == 0


def test_a_concurrent_insert_of_the_same_url_is_the_same_already_exists_error(client, editor_headers):
    inserted = []

    def insert_the_same_url_elsewhere(session, *_args):
        if inserted or not any(isinstance(row, Article) for row in session.new):
            return
        inserted.append(True)
        with db.engine.begin() as other:
            story_id = other.execute(insert(Story).values(lead=False, included=True).returning(Story.id)).scalar_one()
            other.execute(
                insert(Article).values(
                    story_id=story_id,
                    language="en",
                    section="S",
                    title="Elsewhere",
                    summary="S.",
                    url=GOOD["url"],
                    published_at=datetime(2022, 1, 12, tzinfo=UTC),
                )
            )

    event.listen(Session, "before_flush", insert_the_same_url_elsewhere)
    try:
        response = client.post("/api/v1/articles", json=GOOD, headers=editor_headers)
    finally:
        event.remove(Session, "before_flush", insert_the_same_url_elsewhere)
    assert response.status_code == 422
    assert "already exists" in response.get_json()["error"]["fields"]["url"]
    assert db.session.scalars(select(Article.title)).all() == ["Elsewhere"]
    other = client.post("/api/v1/articles", json={**GOOD, "url": "https://example.org/en/b"}, headers=editor_headers)
    assert other.status_code == 201
