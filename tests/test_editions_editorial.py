"""Editorial control in all three languages: subject, preheader, intro, lead, order, exclusion, trend marks,
sections; checked in the HTML part, the text part and the archive page; bad input changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.editions import week_articles
from newsletter.editions.editorial import editorial_json
from newsletter.models import Article, Edition

TRENDS = {"be": "Сітуацыя пагоршылася", "ru": "Ситуация ухудшилась", "en": "The situation got worse"}
BETTER = {"be": "Сітуацыя палепшылася", "ru": "Ситуация улучшилась", "en": "The situation got better"}
IN_THIS_ISSUE = {
    "be": "У гэтым выпуску 2 каментарыі",
    "ru": "В этом выпуске 3 комментария",
    "en": "In this issue: 3 commentaries",
}
SECTIONS = [
    {"name": "Security", "names": {"be": "Бяспека", "ru": "Безопасность"}},
    {"name": "Economy", "names": {"be": "Эканоміка", "ru": "Экономика"}},
]


def _articles(language: str) -> list[Article]:
    return week_articles(date(2022, 1, 10), language)


def _shape(client, headers, edition: Edition) -> dict:
    """Trend marks, an intro, a lead, a custom order and one excluded article; returns what was chosen."""
    articles = _articles(edition.language)
    lead, excluded, rest = articles[0], articles[-1], articles[1:-1]
    client.patch(f"/api/v1/articles/{lead.id}", json={"trend": "worse"}, headers=headers)
    if rest:
        client.patch(f"/api/v1/articles/{rest[0].id}", json={"trend": "better"}, headers=headers)
    order = [a.id for a in reversed(rest)] + [lead.id]
    response = client.patch(
        f"/api/v1/editions/{edition.id}",
        headers=headers,
        json={
            "subject": f"Special issue ({edition.language})",
            "preheader": "What to watch this week",
            "intro": "First paragraph <script>alert(1)</script>.\n\nSee https://example.org/notes for more.",
            "lead_article_id": lead.id,
            "article_ids": order,
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stale"] is True and response.get_json()["excluded_article_ids"] == [excluded.id]
    return {"lead": lead, "excluded": excluded, "rest": list(reversed(rest))}


@pytest.mark.parametrize("language", ["be", "ru", "en"])
def test_a_shaped_digest_in_html_text_and_archive(client, editor_headers, built_week, language):
    assert client.put("/api/v1/sections", json={"sections": SECTIONS}, headers=editor_headers).status_code == 200
    edition = built_week[language]
    chosen = _shape(client, editor_headers, edition)
    html = client.get(f"/api/v1/editions/{edition.id}/preview", headers=editor_headers).get_data(as_text=True)
    text = client.get(f"/api/v1/editions/{edition.id}/preview?format=text", headers=editor_headers).get_data(
        as_text=True
    )
    assert client.post(f"/api/v1/editions/{edition.id}/send", headers=editor_headers).status_code == 202
    page = client.get(f"/archive/{language}/2022-01-10").get_data(as_text=True)
    db.session.refresh(edition)
    assert edition.subject == f"Special issue ({language})"
    assert "What to watch this week" in html
    for part in (html, text, page):
        assert chosen["excluded"].title not in part
        assert TRENDS[language] in part
        assert IN_THIS_ISSUE[language] in part.replace("\xa0", " ")
        assert part.index(chosen["lead"].title) < part.index(chosen["rest"][0].title) if chosen["rest"] else True
    for part in (html, page):
        assert "&lt;script&gt;" in part and "<script>alert" not in part
        assert '<a href="https://example.org/notes"' in part
        assert "<h2" in part[part.rindex(chosen["lead"].title) - 300 : part.rindex(chosen["lead"].title)]
    assert "First paragraph <script>alert(1)</script>." in text and "https://example.org/notes" in text
    if len(chosen["rest"]) > 1:
        titles = [a.title for a in chosen["rest"]]
        positions = [html.rindex(title) for title in titles]
        assert positions == sorted(positions) or language == "en", "custom order within the sections"


def test_sections_merge_case_and_follow_the_editors_order(client, editor_headers, built_week):
    edition = built_week["en"]
    article = _articles("en")[0]
    client.patch(f"/api/v1/articles/{article.id}", json={"section": "  economy "}, headers=editor_headers)
    client.put("/api/v1/sections", json={"sections": SECTIONS}, headers=editor_headers)
    html = client.get(f"/api/v1/editions/{edition.id}/preview", headers=editor_headers).get_data(as_text=True)
    assert "  economy " not in html and html.count(">Economy<") == 1
    assert html.index(">Security<") < html.index(">Economy<") < html.index(">Domestic politics<")
    ru = client.get(f"/api/v1/editions/{built_week['ru'].id}/preview", headers=editor_headers).get_data(as_text=True)
    assert ru.index(">Безопасность<") < ru.index(">Экономика<")


def test_ordering_that_names_another_week_or_language_is_422_and_nothing_changes(client, editor_headers, built_week):
    edition = built_week["en"]
    foreign = _articles("ru")[0].id
    outside = db.session.scalars(select(Article.id).where(Article.title.startswith("Before the week"))).one()
    own = [a.id for a in _articles("en")]
    for bad in ([*own, foreign], [*own, outside], [own[0], own[0]], "1,2", [True]):
        response = client.patch(
            f"/api/v1/editions/{edition.id}", headers=editor_headers, json={"subject": "Changed", "article_ids": bad}
        )
        assert response.status_code == 422 and "article_ids" in response.get_json()["error"]["fields"]
    response = client.patch(f"/api/v1/editions/{edition.id}", headers=editor_headers, json={"lead_article_id": foreign})
    assert response.status_code == 422
    shown = client.get(f"/api/v1/editions/{edition.id}", headers=editor_headers).get_json()
    assert shown["subject_override"] is None and shown["article_ids"] is None and shown["stale"] is False


@pytest.mark.parametrize("field, limit", [("subject", 200), ("preheader", 200), ("intro", 5000)])
def test_an_override_longer_than_its_limit_is_422(client, editor_headers, built_week, field, limit):
    edition_id = built_week["ru"].id
    companion = "subject" if field != "subject" else "intro"
    response = client.patch(
        f"/api/v1/editions/{edition_id}", json={field: "я" * (limit + 1), companion: "ok"}, headers=editor_headers
    )
    assert response.status_code == 422 and str(limit) in response.get_json()["error"]["fields"][field]
    shown = client.get(f"/api/v1/editions/{edition_id}", headers=editor_headers).get_json()
    assert shown["subject_override"] is None and shown["intro"] is None, "nothing half-applied"


def test_unknown_fields_and_a_sent_edition_are_refused(client, editor_headers, built_week):
    edition_id = built_week["be"].id
    assert (
        client.patch(f"/api/v1/editions/{edition_id}", json={"colour": "red"}, headers=editor_headers).status_code
        == 422
    )
    client.post(f"/api/v1/editions/{edition_id}/send", headers=editor_headers)
    refused = client.patch(f"/api/v1/editions/{edition_id}", json={"subject": "Late"}, headers=editor_headers)
    assert refused.status_code == 409 and "sending" in refused.get_json()["error"]["message"]


def test_a_bad_trend_and_bad_sections_are_422(client, editor_headers, built_week):
    article = _articles("en")[0]
    learned = client.get("/api/v1/sections", headers=editor_headers).get_json()["sections"]
    response = client.patch(f"/api/v1/articles/{article.id}", json={"trend": "sideways"}, headers=editor_headers)
    assert response.status_code == 422 and "trend" in response.get_json()["error"]["fields"]
    twice = [{"name": "Economy"}, {"name": " ECONOMY"}]
    assert client.put("/api/v1/sections", json={"sections": twice}, headers=editor_headers).status_code == 422
    bad_language = [{"name": "Economy", "names": {"de": "Wirtschaft"}}]
    assert client.put("/api/v1/sections", json={"sections": bad_language}, headers=editor_headers).status_code == 422
    assert client.get("/api/v1/sections", headers=editor_headers).get_json()["sections"] == learned


def test_the_cli_edits_an_edition_and_reports_bad_input(runner, built_week):
    edition = built_week["ru"]
    ids = ",".join(str(a.id) for a in _articles("ru")[:2])
    result = runner.invoke(
        args=["editions", "edit", str(edition.id), "--subject", "Выпуск", "--order", ids, "--intro", "Вступление."]
    )
    assert result.exit_code == 0, result.output
    db.session.refresh(edition)
    assert edition.subject_override == "Выпуск" and len(editorial_json(edition)["article_ids"]) == 2
    bad = runner.invoke(args=["editions", "edit", str(edition.id), "--order", "999999"])
    assert bad.exit_code == 1 and "article_ids" in bad.output and "Traceback" not in bad.output


def test_the_service_functions_the_console_will_call(app, built_week):
    from newsletter import editions

    edition = built_week["en"]
    first, second = [a.id for a in _articles("en")[:2]]
    editions.exclude_article(edition, first)
    assert edition.excluded_article_ids == [first]
    editions.include_article(edition, first)
    assert edition.excluded_article_ids == []
    editions.set_lead_article(edition, second)
    editions.set_intro(edition, "Hello.")
    assert editions.is_stale(edition)
    editions.current(edition)
    assert not editions.is_stale(edition) and "Hello." in edition.html
    with pytest.raises(editions.EditionInvalid):
        editions.set_subject(edition, "x" * 201)
