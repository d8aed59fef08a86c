"""The confirm, unsubscribe and preferences pages: scanner-safe, in the subscriber's language, and in a real browser."""

from __future__ import annotations

import pytest
from fixtures.settings import current_settings
from fixtures.subscribers import confirm_path_in, queued_messages, snapshot
from sqlalchemy import select

from newsletter.core import tokens
from newsletter.core.extensions import db
from newsletter.models import Subscriber
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED

SUCCESS = {
    "be": "Вы паспяхова падпісаліся",
    "ru": "Вы успешно подписались",
    "en": "You have been successfully subscribed",
}


def the_subscriber() -> Subscriber:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber))


def pending_confirm_path(client, language: str, languages=("en",)) -> str:
    client.post(
        "/api/v1/subscriptions", json={"email": "reader@example.org", "languages": list(languages), "locale": language}
    )
    return confirm_path_in(queued_messages()[-1])


def personal_path(app, purpose: str) -> str:
    subscriber = the_subscriber()
    with app.test_request_context():
        links = tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email)
    return getattr(links, purpose).replace(app.config["BASE_URL"], "")


@pytest.mark.parametrize("language", ["be", "ru", "en"])
def test_get_shows_one_button_and_no_script_and_changes_nothing(client, language):
    path = pending_confirm_path(client, language)
    assert path.endswith(f"?lang={language}")
    before = snapshot()
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f'<html lang="{language}">' in page
    assert 'method="post"' in page and page.count("<button") == 1 and "<script" not in page
    client.head(path)
    assert snapshot() == before and the_subscriber().status == PENDING


@pytest.mark.parametrize("language", ["be", "ru", "en"])
def test_post_confirms_and_thanks_in_the_subscribers_language(client, language):
    path = pending_confirm_path(client, language, ["ru", "be"]).split("?")[0]
    response = client.post(path, headers={"User-Agent": "browser/1.0"})
    assert response.status_code == 200 and SUCCESS[language] in response.get_data(as_text=True)
    subscriber = the_subscriber()
    assert subscriber.status == CONFIRMED and subscriber.confirmed_languages == ["be", "ru"]
    consent = subscriber.consents[0]
    assert consent.confirmed_at and consent.confirm_ip == "127.0.0.1" and consent.confirm_user_agent == "browser/1.0"


def test_unsubscribe_page_has_one_button_and_get_changes_nothing(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["ru"], locale="ru")
    path = personal_path(app, "unsubscribe")
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="ru">' in page and page.count("<button") == 1 and "Отписаться" in page
    assert the_subscriber().status == CONFIRMED


def test_one_click_unsubscribe_is_200_without_redirect_cookies_or_csrf(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["ru", "en"])
    path = personal_path(app, "unsubscribe")
    for _attempt in range(2):
        response = client.post(
            path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        assert the_subscriber().status == UNSUBSCRIBED and the_subscriber().languages == []


def test_plain_form_post_unsubscribes_too(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["en"], locale="be")
    response = client.post(personal_path(app, "unsubscribe"))
    assert response.status_code == 200 and "Вы адпісаліся" in response.get_data(as_text=True)
    assert the_subscriber().status == UNSUBSCRIBED


def test_preferences_change_languages(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["en"], locale="en")
    path = personal_path(app, "preferences")
    page = client.get(path).get_data(as_text=True)
    assert 'value="en" checked' in page and 'value="ru" ' in page
    response = client.post(path, data={"action": "save", "languages": ["ru", "be"]})
    assert response.status_code == 200 and "Your languages have been saved." in response.get_data(as_text=True)
    assert the_subscriber().confirmed_languages == ["be", "ru"]
    assert client.post(path, data={"action": "save", "languages": ["ru", "be"]}).status_code == 200
    assert the_subscriber().confirmed_languages == ["be", "ru"]


def test_languages_added_on_the_preferences_page_get_a_confirmed_consent_record(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["en"], locale="en")
    path = personal_path(app, "preferences")
    client.post(path, data={"action": "save", "languages": ["en", "ru"]}, headers={"User-Agent": "pref-agent"})
    [consent] = the_subscriber().consents
    assert consent.source == "preferences" and consent.languages == "ru"
    assert consent.confirmed_at is not None and consent.requested_at is not None
    assert consent.request_ip == "127.0.0.1" and consent.confirm_ip == "127.0.0.1"
    assert consent.user_agent == "pref-agent" and consent.consent_text_version == app.config["CONSENT_TEXT_VERSION"]
    assert consent.source_page.endswith("/preferences")
    client.post(path, data={"action": "save", "languages": ["ru"]})
    assert len(the_subscriber().consents) == 1


@pytest.mark.parametrize("languages", [[], ["de"]])
def test_preferences_refuse_bad_language_choices_inline(app, client, add_subscriber, languages):
    add_subscriber("reader@example.org", ["en"], locale="ru")
    before = snapshot()
    response = client.post(personal_path(app, "preferences"), data={"action": "save", "languages": languages})
    assert response.status_code == 422 and 'id="languages-error"' in response.get_data(as_text=True)
    assert snapshot() == before


def test_preferences_unsubscribe_button(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["en"])
    path = personal_path(app, "preferences")
    assert client.post(path, data={"action": "unsubscribe"}).status_code == 200
    assert the_subscriber().status == UNSUBSCRIBED
    page = client.get(path).get_data(as_text=True)
    assert "You are unsubscribed" in page and "/subscribe?lang=en" in page


# --- a real browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_browser_running_script_confirms_nothing_until_the_click(client, live_server, browser):
    """What a link scanner that runs script sees: the page loads, settles, and nothing is confirmed."""
    path = pending_confirm_path(client, "ru")
    page = browser.new_page()
    page.goto(live_server + path, timeout=15000, wait_until="networkidle")
    assert page.get_by_role("button").count() == 1
    assert the_subscriber().status == PENDING
    page.get_by_role("button", name="Да, подписаться").click(timeout=15000)
    page.get_by_text(SUCCESS["ru"]).wait_for(timeout=15000)
    assert the_subscriber().status == CONFIRMED
    page.close()


@pytest.mark.browser
def test_browser_without_script_confirms_with_the_button(client, live_server, browser):
    path = pending_confirm_path(client, "be")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server + path, timeout=15000)
    assert the_subscriber().status == PENDING
    page.get_by_role("button", name="Так, падпісацца").click(timeout=15000)
    page.get_by_text(SUCCESS["be"]).wait_for(timeout=15000)
    assert the_subscriber().status == CONFIRMED
    context.close()
