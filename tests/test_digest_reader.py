"""The digest as a reader sees it: inline link colours, an "In this issue" list with real plurals, a footer
with the organisation's address, per-language publication names, clean aria-labels, a clipping warning."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from flask_babel import force_locale, ngettext

from newsletter.content.articles import import_json
from newsletter.editions import build_week


@pytest.fixture
def configured(app_config):
    app_config.update(
        ORGANISATION_ADDRESS="Analytical Centre, PO Box 1, 00-001 Warsaw",
        PUBLICATION_NAME_BE="Беларускі тыднёвік",
        PUBLICATION_NAME_RU="Белорусский еженедельник",
    )
    return app_config


def test_every_link_carries_its_colour_inline(built_week):
    for edition in built_week.values():
        links = re.findall(r"<a [^>]*>", edition.html)
        assert links and all(re.search(r'style="[^"]*color:#', link) for link in links), edition.language


@pytest.mark.parametrize(
    "language, forms",
    [
        ("be", {1: "1 каментарый", 3: "3 каментарыі", 5: "5 каментарыяў", 21: "21 каментарый", 12: "12 каментарыяў"}),
        (
            "ru",
            {1: "1 комментарий", 3: "3 комментария", 5: "5 комментариев", 22: "22 комментария", 11: "11 комментариев"},
        ),
        ("en", {1: "1 commentary", 3: "3 commentaries"}),
    ],
)
def test_in_this_issue_uses_the_languages_plurals(app, language, forms):
    with force_locale(language):
        for count, expected in forms.items():
            assert ngettext("In this issue: %(num)d commentary", "In this issue: %(num)d commentaries", count).endswith(
                expected
            )


def test_the_rendered_list_names_every_article(built_week):
    html, text = built_week["be"].html, built_week["be"].text
    assert "У гэтым выпуску 3 каментарыі" in html and "У гэтым выпуску 3 каментарыі" in text
    assert text.count("\n- ") == 3


def test_footer_address_site_and_subscribe_link_and_per_language_names(configured, app, imported_samples):
    editions = {e.language: e for e in build_week(date(2022, 1, 10))}
    for edition in editions.values():
        for part in (edition.html, edition.text):
            assert "Analytical Centre, PO Box 1, 00-001 Warsaw" in part
            assert f"http://newsletter.test/subscribe?lang={edition.language}" in part
            assert "newsletter.test" in part
    assert editions["be"].subject.startswith("Беларускі тыднёвік:") and "Беларускі тыднёвік" in editions["be"].html
    assert editions["ru"].subject.startswith("Белорусский еженедельник:")
    assert editions["en"].subject.startswith("Belarus Weekly:"), "falls back to NEWSLETTER_PUBLICATION_NAME"
    assert "Вам пераслалі гэты ліст?" in editions["be"].html


def test_no_escaped_code_points_in_aria_labels(built_week):
    for edition in built_week.values():
        labels = re.findall(r'aria-label="([^"]*)"', edition.html)
        assert labels and not any("\\u" in label for label in labels), labels


def _large_week() -> None:
    import_json(
        json.dumps(
            {
                "articles": [
                    {
                        "language": "en",
                        "section": f"Section {i % 4}",
                        "title": f"Long commentary {i}",
                        "summary": "word " * 600,  # full layout between 90 and 102 KB: warned, not yet compact
                        "url": f"https://example.org/en/long-{i}",
                        "published_at": "2022-01-12T12:00:00+03:00",
                    }
                    for i in range(20)
                ]
            }
        )
    )


def test_a_warning_when_the_html_nears_gmails_clipping(client, runner, editor_headers, app):
    _large_week()
    body = client.post("/api/v1/editions", json={"week": "2022-01-10"}, headers=editor_headers).get_json()
    edition = body["editions"][0]
    assert edition["html_bytes"] > 90 * 1024 and "Gmail clips" in edition["warnings"][0]
    result = runner.invoke(args=["editions", "build", "--week", "2022-01-10"])
    assert result.exit_code == 0 and "Gmail clips" in result.output
    listed = json.loads(runner.invoke(args=["editions", "list", "--json"]).output)
    assert "Gmail clips" in listed[0]["warnings"][0]


def test_no_warning_for_an_ordinary_week(client, editor_headers, built_week):
    shown = client.get(f"/api/v1/editions/{built_week['ru'].id}", headers=editor_headers).get_json()
    assert shown["warnings"] == [] and 0 < shown["html_bytes"] < 90 * 1024
