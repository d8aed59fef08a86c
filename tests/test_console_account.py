"""The small things of issue 22 on the console: `next` that is not a plain console path, and a TOTP key that
stays the same until it is confirmed or discarded."""

from __future__ import annotations

import re

import pyotp
import pytest
from fixtures.console import PASSWORD, post_form

UNSAFE_NEXT = [
    "/console/week\r\nSet-Cookie: x=1",
    "/console/\nx",
    "//evil.example/console/",
    "/console//evil.example",
    "https://evil.example/console/",
    "javascript:alert(1)",
    "/console/\\evil.example",
    "/api/v1/subscribers",
    "/console/ week",
    "",
]


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_sign_in_falls_back_to_this_week_on_a_next_that_is_not_a_console_path(app, client, make_account, target):
    make_account("Alena")
    response = post_form(
        client, "/console/sign-in", {"login": "Alena", "password": PASSWORD}, query_string={"next": target}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/console/week"


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_the_language_switch_falls_back_to_this_week_too(client, target):
    response = post_form(client, "/console/language", {"language": "ru", "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/console/week"


def test_a_plain_console_path_is_followed(app, client, make_account):
    make_account("Alena")
    response = post_form(
        client,
        "/console/sign-in",
        {"login": "Alena", "password": PASSWORD},
        query_string={"next": "/console/articles?q=1"},
    )
    assert response.headers["Location"] == "/console/articles?q=1"


def _key(page) -> str:
    return re.search(r"<code>([A-Z2-7]{16,})</code>", page.get_data(as_text=True)).group(1)


def test_the_totp_key_stays_the_same_until_confirmed_or_discarded(editor_client):
    first = _key(editor_client.get("/console/account"))
    assert _key(editor_client.get("/console/account")) == first == _key(editor_client.get("/console/account"))
    wrong = post_form(editor_client, "/console/account", {"action": "enable", "code": "000000"}, "/console/account")
    assert wrong.status_code == 422 and _key(wrong) == first
    discarded = post_form(editor_client, "/console/account", {"action": "cancel"}, token_from="/console/account")
    assert discarded.status_code == 302
    second = _key(editor_client.get("/console/account"))
    assert second != first
    code = pyotp.TOTP(second).now()
    enabled = post_form(editor_client, "/console/account", {"action": "enable", "code": code}, "/console/account")
    assert enabled.status_code == 200 and "Two-factor sign-in is on." in enabled.get_data(as_text=True)


def test_the_account_page_lists_its_sessions_once_and_titles_itself_in_words(editor_client):
    """The page's <title> is its name alone (the sessions table was once copied into the title block)."""
    page = editor_client.get("/console/account").get_data(as_text=True)
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title and "Your account" in title
    assert page.count('id="sessions-h"') == 1
