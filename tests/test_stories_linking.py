"""Articles find their translations: by URL (the default), by an explicit `story` key, by hand."""

from __future__ import annotations

import json
from datetime import date

import pytest

from newsletter.content import stories
from newsletter.content.articles import ImportInvalid, import_json
from newsletter.content.story_links import StoryPatternInvalid, url_key, url_pattern
from newsletter.core.extensions import db
from newsletter.models import Article

WEEK = date(2022, 1, 10)


def _article(language: str, url: str, title: str = "T", **extra) -> dict:
    return {
        "language": language,
        "section": "Economy",
        "title": title,
        "summary": "S.",
        "url": url,
        "published_at": "2022-01-12T12:00:00+03:00",
        **extra,
    }


def test_the_sample_week_is_four_stories_with_no_editor_action(app, imported_samples):
    week = [stories.story_json(story) for story in stories.week_stories(WEEK)]
    assert len(week) == 4
    by_title = {entry["titles"]["en"]: entry for entry in week}
    assert by_title["Joint exercises announced for February"]["missing"] == ["be"]
    assert sum(1 for entry in week if entry["missing"] == []) == 3
    donor = by_title["A security donor in another region"]
    assert donor["titles"]["ru"] == "Донор безопасности в другом регионе"
    assert donor["titles"]["be"] == "Донар бяспекі ў іншым рэгіёне"


def test_importing_the_samples_again_changes_no_story(app, samples_path, imported_samples):
    before = [stories.story_json(s) for s in stories.week_stories(WEEK)]
    import_json(samples_path.read_bytes())
    assert [stories.story_json(s) for s in stories.week_stories(WEEK)] == before


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://example.org/be/a", "https://example.org/en/a"),
        ("https://example.org/a?lang=be", "https://example.org/a?lang=ru"),
        ("https://example.org/a?id=3&language=ru", "https://example.org/a?id=3&language=en"),
        ("https://be.example.org/a", "https://en.example.org/a"),
    ],
)
def test_urls_differing_only_in_a_language_marker_are_one_story(first, second):
    pattern = url_pattern(None)
    assert url_key(first, pattern) == url_key(second, pattern) is not None


def test_urls_without_a_language_marker_link_nothing():
    pattern = url_pattern(None)
    assert url_key("https://example.org/bench/a", pattern) is None
    assert url_key("https://example.org/a?x=en", pattern) is None


def test_a_configured_pattern_links_other_url_shapes(app):
    pattern = r"-(be|ru|en)\.html$"
    import_json(
        json.dumps(
            {"articles": [_article("ru", "https://e.org/a-ru.html"), _article("en", "https://e.org/a-en.html")]}
        ),
        story_pattern=pattern,
    )
    assert [len(s.articles) for s in stories.week_stories(WEEK)] == [2]
    with pytest.raises(StoryPatternInvalid):
        url_pattern("(unclosed")
    with pytest.raises(StoryPatternInvalid):
        url_pattern("no group")


def test_an_explicit_story_key_links_articles_whatever_their_urls(app):
    items = [
        _article("ru", "https://e.org/novosti/1", story="potash-2022"),
        _article("en", "https://e.org/news/1", story="potash-2022", trend="worse"),
    ]
    import_json(json.dumps({"articles": items}))
    (story,) = stories.week_stories(WEEK)
    assert story.key == "potash-2022" and {a.language for a in story.articles} == {"ru", "en"}
    assert story.trend == "worse" and all(a.trend == "worse" for a in story.articles)


def test_an_explicit_key_naming_two_articles_of_one_language_is_refused(app):
    items = [_article("ru", "https://e.org/1", story="k"), _article("ru", "https://e.org/2", story="k")]
    with pytest.raises(ImportInvalid) as refused:
        import_json(json.dumps({"articles": items}))
    assert "already has a ru article" in str(refused.value)
    assert db.session.query(Article).count() == 0


def test_a_story_key_over_200_characters_is_refused(app):
    with pytest.raises(ImportInvalid) as refused:
        import_json(json.dumps({"articles": [_article("ru", "https://e.org/1", story="k" * 201)]}))
    assert "story" in str(refused.value)


def test_linking_by_hand_and_unlinking_survive_the_next_import(app, samples_path, imported_samples):
    ru_only = Article.query.filter_by(language="ru", url="https://example.org/ru/2022/01/joint-exercises").one()
    donor_en = Article.query.filter_by(url="https://example.org/en/2022/01/security-donor").one()
    story = donor_en.story
    stories.unlink_article(story, donor_en.id)
    assert len(stories.week_stories(WEEK)) == 5
    import_json(samples_path.read_bytes())
    assert len(stories.week_stories(WEEK)) == 5
    assert ru_only.story.article_in("en") is not None
    with pytest.raises(stories.StoryConflict):
        stories.link_articles([donor_en.id, ru_only.story.article_in("en").id])
    linked = stories.link_articles([story.article_in("ru").id, donor_en.id])
    assert {a.language for a in linked.articles} == {"be", "ru", "en"}
    assert len(stories.week_stories(WEEK)) == 4


def test_suggestions_are_unlinked_articles_of_the_same_week_and_section(app):
    items = [
        _article("ru", "https://e.org/ru-1", title="Калий"),
        _article("en", "https://e.org/en-1", title="Potash"),
        _article("en", "https://e.org/en-2", title="Elsewhere", section="Security"),
    ]
    items[1]["section"] = "economy"
    import_json(json.dumps({"articles": items}))
    ru = Article.query.filter_by(language="ru").one()
    assert [a.title for a in stories.suggestions(ru)] == ["Potash"]


def test_a_pattern_that_cannot_work_stops_the_app_with_a_clear_error(app_config):
    from newsletter import create_app
    from newsletter.core.config import ConfigError

    for pattern, words in (("(unclosed", "not a regular expression"), ("no-group", "needs a group")):
        with pytest.raises(ConfigError, match=words):
            create_app({**app_config, "STORY_URL_PATTERN": pattern})


ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Site</title><id>urn:site</id><updated>2022-01-12T10:00:00Z</updated>
<entry><id>urn:{lang}:1</id><title>{title}</title><updated>2022-01-12T10:00:00Z</updated><summary>S.</summary>
<link rel="alternate" href="https://site.example/{path}"/>
{alternates}
</entry></feed>"""
RSS_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:xhtml="http://www.w3.org/1999/xhtml">
<channel><title>Site</title><link>https://site.example/</link><description>d</description>
<item><title>{title}</title><link>https://site.example/{path}</link><guid>urn:{lang}:1</guid>
<pubDate>Wed, 12 Jan 2022 10:00:00 GMT</pubDate><description>S.</description>{alternates}</item>
</channel></rss>"""


def test_feeds_link_translations_named_by_hreflang_alternates(app, tmp_path):
    """Paths with no language marker: only the alternates (Atom link, RSS atom:link and xhtml:link) link them."""
    from newsletter.content.feeds import fetch_feed

    paths = {"be": "naviny/kalij", "ru": "novosti/kaliy", "en": "news/potash"}

    def alternates(own: str, tag: str) -> str:
        return "".join(
            f'<{tag} rel="alternate" hreflang="{code}" href="https://site.example/{path}"/>'
            for code, path in paths.items()
            if code != own
        )

    sources = {
        "be": ATOM_FEED.format(lang="be", title="Калій", path=paths["be"], alternates=alternates("be", "link")),
        "ru": RSS_FEED.format(lang="ru", title="Калий", path=paths["ru"], alternates=alternates("ru", "atom:link")),
        "en": RSS_FEED.format(lang="en", title="Potash", path=paths["en"], alternates=alternates("en", "xhtml:link")),
    }
    for code, body in sources.items():
        (tmp_path / f"{code}.xml").write_text(body, encoding="utf-8")
        report = fetch_feed(code, str(tmp_path / f"{code}.xml"))
        assert report.error is None and report.result.created == 1, report.describe()
    (story,) = stories.week_stories(WEEK)
    assert {a.language: a.title for a in story.articles} == {"be": "Калій", "ru": "Калий", "en": "Potash"}
