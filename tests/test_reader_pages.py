"""Pages a reader trusts: friendly repeats, natural language lists, masked addresses, PRG, the remembered language."""

from __future__ import annotations

import pytest
from fixtures.settings import current_settings
from fixtures.subscribers import confirm_path_in, queued_messages
from sqlalchemy import func, select

from newsletter import create_app
from newsletter.core import tokens
from newsletter.core.config import ConfigError
from newsletter.core.extensions import db
from newsletter.models import Delivery, Subscriber


@pytest.fixture(autouse=True)
def no_rate_limits(app_config):
    app_config["RATE_LIMITS"] = "off"


def _confirm(client, languages, locale):
    client.post("/api/v1/subscriptions", json={"email": "reader@example.org", "languages": languages, "locale": locale})
    path = confirm_path_in(queued_messages()[-1]).split("?")[0]
    return path, client.post(path)


def _personal_path(app, purpose: str) -> str:
    subscriber = db.session.scalar(select(Subscriber))
    with app.test_request_context():
        return getattr(tokens.subscriber_links(current_settings(), subscriber.id, subscriber.email), purpose).replace(
            app.config["BASE_URL"], ""
        )


def test_a_confirm_link_opened_again_says_you_are_already_subscribed(app, client):
    path, _first = _confirm(client, ["en"], "en")
    for again in (client.get(path), client.post(path)):
        page = again.get_data(as_text=True)
        assert again.status_code == 200 and "You are already subscribed" in page
        assert "/preferences/" in page and "does not work" not in page


def test_the_confirmed_page_links_to_preferences_and_keeps_the_readers_order(client):
    _path, confirmed = _confirm(client, ["ru", "be"], "en")
    page = confirmed.get_data(as_text=True)
    assert "You will receive 2 emails from Belarus Weekly a week, in Russian and Belarusian." in page
    assert 'href="http://newsletter.test/preferences/' in page


@pytest.mark.parametrize(
    "locale, languages, sentence",
    [
        ("be", ["ru", "be"], "Вы будзеце атрымліваць 2 лісты Belarus Weekly на тыдзень, па-руску і па-беларуску."),
        ("ru", ["en"], "Вы будете получать 1 письмо Belarus Weekly в неделю, по-английски."),
        (
            "ru",
            ["be", "en", "ru"],
            "Вы будете получать 3 письма Belarus Weekly в неделю, по-белорусски, по-английски и по-русски.",
        ),
        ("en", ["en"], "You will receive 1 email from Belarus Weekly a week, in English."),
    ],
)
def test_language_lists_read_naturally_with_the_right_plural(client, locale, languages, sentence):
    _path, confirmed = _confirm(client, languages, locale)
    assert sentence in confirmed.get_data(as_text=True)


@pytest.mark.parametrize("purpose", ["preferences", "unsubscribe"])
def test_preferences_and_unsubscribe_pages_name_the_address_masked(app, client, add_subscriber, purpose):
    add_subscriber("olga.reader@example.org", ["en"])
    page = client.get(_personal_path(app, purpose)).get_data(as_text=True)
    assert "For o***@example.org." in page and "olga.reader" not in page


def test_the_unsubscribe_page_offers_changing_languages_instead(app, client, add_subscriber):
    add_subscriber("reader@example.org", ["en"])
    page = client.get(_personal_path(app, "unsubscribe")).get_data(as_text=True)
    assert "Change languages instead" in page and 'href="http://newsletter.test/preferences/' in page


def test_check_your_inbox_comes_after_a_redirect_so_a_refresh_sends_nothing(client, form_token):
    token = form_token()
    response = client.post(
        "/subscribe?lang=en", data={"csrf_token": token, "email": "r@example.org", "languages": "en"}
    )
    assert response.status_code == 303
    for _refresh in range(3):
        page = client.get(response.headers["Location"])
        assert page.status_code == 200 and "Check your inbox" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_the_chosen_language_is_remembered_in_a_cookie_holding_only_it(client):
    chosen = client.get("/subscribe?lang=be")
    cookie = chosen.headers["Set-Cookie"]
    assert cookie.startswith("lang=be;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    later = client.get("/subscribe", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="be">' in later
    assert "lang=" not in client.post("/api/v1/subscriptions?lang=ru", json={}).headers.get("Set-Cookie", "")


def test_the_home_page_leads_to_the_form_and_there_is_a_favicon(client):
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/subscribe"
    assert client.get("/?lang=ru").headers["Location"] == "/subscribe?lang=ru"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert 'rel="icon"' in client.get("/subscribe").get_data(as_text=True)


def test_an_optional_logo_served_by_the_app_and_a_link_back_to_the_site(app_config, tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    app = create_app({**app_config, "LOGO_PATH": str(logo), "SITE_URL": "https://site.example/"})
    client = app.test_client()
    with app.app_context():
        page = client.get("/subscribe?lang=en").get_data(as_text=True)
        served = client.get("/logo")
    assert '<img src="/logo"' in page and 'href="https://site.example/">Back to the site</a>' in page
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == logo.read_bytes()


def test_without_a_logo_there_is_none(client):
    assert client.get("/logo").status_code == 404
    assert "<img" not in client.get("/subscribe").get_data(as_text=True)


@pytest.mark.parametrize(
    "name, value",
    [
        ("LOGO_PATH", "/no/such/logo.png"),
        ("LOGO_PATH", __file__),
        ("SITE_URL", "javascript:alert(1)"),
        ("SITE_URL", "site.example"),
    ],
)
def test_bad_logo_or_site_settings_stop_start_up(app_config, name, value):
    with pytest.raises(ConfigError, match=f"NEWSLETTER_{name}"):
        create_app({**app_config, name: value})
