"""The digest as rendered once per edition: contents, escaping, privacy, and the email built from it."""

from __future__ import annotations

import email
import json
import os
import re
from datetime import date
from email.policy import default

import pytest
from fixtures.settings import current_settings

from newsletter.content.articles import import_json
from newsletter.core.tokens import LinkSigner
from newsletter.editions import build_edition, build_week

WEEK = date(2022, 1, 10)


def test_html_has_period_sections_articles_and_placeholders_but_no_mjml(built_week):
    html = built_week["ru"].html
    assert "<mj-" not in html and "</mjml>" not in html
    assert "10—16 января 2022" in html
    for section in ("Беларусско-российские отношения", "Внутренняя политика", "Экономика", "Безопасность"):
        assert section in html
    assert html.count("Читать дальше") == 4
    assert 'href="__UNSUBSCRIBE_URL__"' in html and 'href="__PREFERENCES_URL__"' in html
    assert 'href="http://newsletter.test/archive/ru/2022-01-10"' in html
    assert 'lang="ru"' in html


def test_sections_keep_the_order_articles_were_added(built_week):
    html = built_week["en"].html
    positions = [html.index(name) for name in ("Belarus-Russia relations", "Domestic politics", "Economy", "Security")]
    assert positions == sorted(positions)
    import_json(
        json.dumps(
            {
                "articles": [
                    {
                        "language": "en",
                        "section": "Army",
                        "title": "Added last",
                        "summary": "S.",
                        "url": "https://example.org/army",
                        "published_at": "2022-01-11T12:00:00+03:00",
                    }
                ]
            }
        )
    )
    rebuilt = build_edition(date(2022, 1, 10), "en").html
    assert rebuilt.index("Security") < rebuilt.index("Army"), "a section added last comes last, whatever its name"


def test_text_part_has_every_link_and_the_footer(built_week):
    text = built_week["be"].text
    assert text.startswith("Belarus Weekly\n10–16 студзеня 2022\n")
    for slug in ("security-donor", "reform-stability", "potash-route"):
        assert f"Чытаць далей: https://example.org/be/2022/01/{slug}" in text
    assert "Адпісацца адным націскам: __UNSUBSCRIBE_URL__" in text
    assert "Наладзіць мовы: __PREFERENCES_URL__" in text
    assert "<" not in text


def test_subjects_are_localised_with_the_period(built_week):
    subjects = {code: e.subject.replace("\u2009", " ").replace("\u202f", " ") for code, e in built_week.items()}
    assert subjects == {
        "en": "Belarus Weekly: the week of January 10 – 16, 2022",
        "ru": "Belarus Weekly: неделя 10—16 января 2022 г.",
        "be": "Belarus Weekly: тыдзень 10–16 студзеня 2022",
    }


def test_no_tracking_no_remote_images_or_fonts(built_week):
    for edition in built_week.values():
        html = edition.html
        assert "<img" not in html
        assert "fonts.googleapis" not in html and "@import" not in html and "@font-face" not in html
        assert not re.search(r"url\(\s*['\"]?https?:", html)
        assert "prefers-color-scheme: dark" in html and 'name="color-scheme"' in html
        assert 'name="viewport"' in html


def test_markup_in_titles_and_summaries_is_escaped_never_injected(app):
    import_json(
        json.dumps(
            {
                "articles": [
                    {
                        "language": "en",
                        "section": "<mj-section>Sec</mj-section>",
                        "title": "<script>alert(1)</script><mj-raw><b>bold</b></mj-raw>",
                        "summary": '</mj-text></mj-column><mj-image src="https://tracker.example/p.gif"/> & more',
                        "url": "https://example.org/en/x?a=1&b=2",
                        "published_at": "2022-01-12T12:00:00+03:00",
                    }
                ]
            }
        )
    )
    edition = build_week(WEEK)[0]
    html = edition.html
    assert "<script>" not in html and "<b>bold</b>" not in html and 'tracker.example/p.gif"' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;mj-image" in html and "&amp; more" in html
    assert 'href="https://example.org/en/x?a=1&amp;b=2"' in html
    assert "<img" not in html
    assert "<script>alert(1)</script>" in edition.text  # plain text is not HTML: shown as typed


def test_email_is_multipart_alternative_with_subject_period_and_links(app, built_week, make_subscriber):
    from newsletter.delivery.digest import DigestTemplate, build_digest_message

    reader = make_subscriber("reader@example.org", ["ru"])
    edition = built_week["ru"]
    raw = build_digest_message(
        DigestTemplate(edition, current_settings()), reader.id, reader.email, LinkSigner(current_settings())
    )
    message = email.message_from_bytes(raw, policy=default)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert "=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].decode("ascii").lower()  # RFC 2047 subject
    assert str(message["Subject"]) == edition.subject
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<mj-" not in html and "10—16 января 2022" in html
    for slug in ("security-donor", "reform-stability", "potash-route", "joint-exercises"):
        assert f"https://example.org/ru/2022/01/{slug}" in html and f"https://example.org/ru/2022/01/{slug}" in text
    assert "__UNSUBSCRIBE_URL__" not in html + text and "__PREFERENCES_URL__" not in html + text
    assert "http://newsletter.test/unsubscribe/" in html and "http://newsletter.test/preferences/" in text


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="headless Chromium (/usr/bin/chromium) is not installed")
def test_layout_fits_narrow_and_wide_screens_in_light_and_dark(built_week, tmp_path):
    from playwright.sync_api import sync_playwright

    html = built_week["ru"].html
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for width, scheme in ((375, "light"), (1000, "light"), (375, "dark")):
                page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
                page.route("**/*", lambda route: route.abort())  # nothing remote may load
                page.set_content(html)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                title_box = page.get_by_role("heading", name="Донор безопасности в другом регионе").bounding_box()
                assert title_box["x"] >= 0 and title_box["x"] + title_box["width"] <= width
                background = page.evaluate(
                    "getComputedStyle(document.querySelector('.card td') || document.body).backgroundColor"
                )
                assert (background == "rgb(23, 23, 26)") == (scheme == "dark")
                page.screenshot(path=str(tmp_path / f"digest-{width}-{scheme}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
