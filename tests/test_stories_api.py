"""The stories contract: one decision per story reaches every language's digest, text part and archive page."""

from __future__ import annotations

import pytest

WEEK = "2022-01-10"
WORSE = {"be": "Сітуацыя пагоршылася", "ru": "Ситуация ухудшилась", "en": "The situation got worse"}
SECTION_NAMES = {"be": "Беларуска-расійскія адносіны", "ru": "Беларусско-российские отношения", "en": "Belarus-Russia"}
TITLES = {
    "donor": {"be": "Донар бяспекі", "ru": "Донор безопасности", "en": "A security donor"},
    "reform": {"be": "Канстытуцыйная рэформа", "ru": "Конституционная реформа", "en": "Constitutional reform"},
    "potash": {"be": "Калійны экспарт", "ru": "Калийный экспорт", "en": "Potash exports"},
}


def _stories(client, headers) -> dict[str, dict]:
    response = client.get(f"/api/v1/stories?week={WEEK}", headers=headers)
    assert response.status_code == 200
    found = response.get_json()["stories"]
    by_name = {}
    for name, titles in {**TITLES, "joint": {"en": "Joint exercises"}}.items():
        by_name[name] = next(s for s in found if s["titles"]["en"].startswith(titles["en"]))
    return by_name


def _digests(client, headers) -> dict[str, tuple[str, str]]:
    built = client.post("/api/v1/editions", json={"week": WEEK}, headers=headers).get_json()["editions"]
    result = {}
    for edition in built:
        html = client.get(f"/api/v1/editions/{edition['id']}/preview", headers=headers).get_data(as_text=True)
        text = client.get(f"/api/v1/editions/{edition['id']}/preview.txt", headers=headers).get_data(as_text=True)
        result[edition["language"]] = (html, text)
    return result


def _patch(client, headers, story: dict, **changes) -> dict:
    response = client.patch(f"/api/v1/stories/{story['id']}", json=changes, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_sample_week_is_four_stories_one_without_belarusian(client, editor_headers, imported_samples):
    stories = _stories(client, editor_headers)
    assert len(client.get(f"/api/v1/stories?week={WEEK}", headers=editor_headers).get_json()["stories"]) == 4
    assert stories["joint"]["articles"]["be"] is None
    assert all(stories[name]["articles"][code] for name in TITLES for code in ("be", "ru", "en"))
    assert set(stories["donor"]) >= {"id", "key", "trend", "included", "lead", "position", "section", "articles"}


def test_one_decision_per_story_is_followed_by_all_three_digests(client, editor_headers, imported_samples):
    stories = _stories(client, editor_headers)
    _patch(client, editor_headers, stories["donor"], trend="worse")
    for code, (html, text) in _digests(client, editor_headers).items():
        assert html.count(WORSE[code]) == 1 and f"[{WORSE[code]}] {TITLES['donor'][code]}" in text

    _patch(client, editor_headers, stories["reform"], lead=True)
    for code, (html, text) in _digests(client, editor_headers).items():
        for part in (html, text):
            assert part.index(TITLES["reform"][code]) < part.index(TITLES["donor"][code])

    _patch(client, editor_headers, stories["donor"], position=1)
    _patch(client, editor_headers, stories["potash"], section="Belarus-Russia relations", position=0)
    for code, (html, text) in _digests(client, editor_headers).items():
        for part in (html, text):
            assert part.index(TITLES["reform"][code]) < part.index(TITLES["potash"][code])
            assert part.index(TITLES["potash"][code]) < part.index(TITLES["donor"][code])
            assert part.count(SECTION_NAMES[code]) == 1

    _patch(client, editor_headers, stories["potash"], included=False)
    for code, (html, text) in _digests(client, editor_headers).items():
        assert TITLES["potash"][code] not in html and TITLES["potash"][code] not in text
        assert TITLES["donor"][code] in html


def test_sending_the_week_sends_every_language_and_the_archive_follows_the_stories(
    client, editor_headers, imported_samples, make_subscriber
):
    make_subscriber("be@example.org", ["be"])
    make_subscriber("two@example.org", ["ru", "en"])
    stories = _stories(client, editor_headers)
    _patch(client, editor_headers, stories["donor"], trend="worse")
    _patch(client, editor_headers, stories["potash"], included=False)
    response = client.post(f"/api/v1/weeks/{WEEK}/send", headers=editor_headers)
    assert response.status_code == 202
    body = response.get_json()
    assert {e["language"]: e["queued"] for e in body["languages"]} == {"be": 1, "ru": 1, "en": 1}
    assert body["missing_translations"] == {"be": [stories["joint"]["id"]]}
    again = client.post(f"/api/v1/weeks/{WEEK}/send", headers=editor_headers).get_json()
    assert all(e["queued"] is None and "sending" in e["reason"] for e in again["languages"])
    for code in ("be", "ru", "en"):
        page = client.get(f"/archive/{code}/{WEEK}").get_data(as_text=True)
        assert WORSE[code] in page and TITLES["donor"][code] in page and TITLES["potash"][code] not in page


def test_linking_and_unlinking_through_the_api(client, editor_headers, imported_samples):
    stories = _stories(client, editor_headers)
    donor, joint = stories["donor"], stories["joint"]
    response = client.delete(
        f"/api/v1/stories/{donor['id']}/articles/{donor['articles']['en']}", headers=editor_headers
    )
    assert response.status_code == 200 and response.get_json()["story"]["articles"]["en"] is None
    clash = client.post(
        "/api/v1/stories", json={"articles": [donor["articles"]["en"], joint["articles"]["en"]]}, headers=editor_headers
    )
    assert clash.status_code == 409 and "en" in clash.get_json()["error"]["message"]
    linked = client.post(
        "/api/v1/stories", json={"articles": [donor["articles"]["ru"], donor["articles"]["en"]]}, headers=editor_headers
    )
    assert linked.status_code == 201 and linked.get_json()["articles"] == donor["articles"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trend": "awful"}, "trend"),
        ({"included": "yes"}, "included"),
        ({"position": -1}, "position"),
        ({"lead": 1}, "lead"),
        ({"colour": "red"}, "fields"),
    ],
)
def test_bad_story_changes_are_422_naming_the_field(client, editor_headers, imported_samples, changes, field):
    story = _stories(client, editor_headers)["donor"]
    response = client.patch(f"/api/v1/stories/{story['id']}", json=changes, headers=editor_headers)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]


def test_sections_are_learned_from_the_stories_at_import(client, editor_headers, imported_samples):
    sections = client.get("/api/v1/sections", headers=editor_headers).get_json()["sections"]
    assert [s["name"] for s in sections] == ["Belarus-Russia relations", "Domestic politics", "Economy", "Security"]
    security = next(s for s in sections if s["name"] == "Security")
    assert security["names"] == {"be": None, "ru": "Безопасность", "en": "Security"}
    economy = next(s for s in sections if s["name"] == "Economy")
    assert economy["names"] == {"be": "Эканоміка", "ru": "Экономика", "en": "Economy"}


def test_bad_weeks_and_missing_stories(client, editor_headers):
    assert client.get("/api/v1/stories?week=soon", headers=editor_headers).status_code == 422
    assert client.post("/api/v1/weeks/soon/send", headers=editor_headers).status_code == 422
    assert client.patch("/api/v1/stories/999", json={"lead": True}, headers=editor_headers).status_code == 404
    bad = client.post("/api/v1/stories", json={"articles": "1"}, headers=editor_headers)
    assert bad.status_code == 422 and "articles" in bad.get_json()["error"]["fields"]
    nothing = client.post("/api/v1/weeks/2030-01-07/send", headers=editor_headers)
    assert nothing.status_code == 409 and all(e["reason"] for e in nothing.get_json()["languages"])


def test_the_cli_lists_sets_links_and_sends_the_week(app, runner, imported_samples, make_subscriber):
    import json

    make_subscriber("ru@example.org", ["ru"])
    listed = runner.invoke(args=["stories", "list", "--week", WEEK, "--json"])
    assert listed.exit_code == 0, listed.output
    stories = json.loads(listed.output)["stories"]
    assert len(stories) == 4
    donor = next(s for s in stories if s["titles"]["en"].startswith("A security donor"))
    result = runner.invoke(args=["stories", "set", str(donor["id"]), "--trend", "worse", "--lead", "--exclude"])
    assert result.exit_code == 0 and "worse" in result.output, result.output
    assert runner.invoke(args=["stories", "set", str(donor["id"]), "--trend", "awful"]).exit_code == 2
    plain = runner.invoke(args=["stories", "list", "--week", WEEK]).output
    assert "be: — missing" in plain and "lead excluded worse" in plain
    clash = runner.invoke(args=["stories", "link", str(donor["articles"]["en"]), str(donor["articles"]["en"] + 1)])
    assert clash.exit_code == 1 and "share a language" in clash.output
    sent = runner.invoke(args=["weeks", "send", WEEK])
    assert sent.exit_code == 0, sent.output
    assert "ru: edition" in sent.output and "1 deliveries queued" in sent.output
    assert "stories have no be version" in sent.output
