"""Console sign-in: passwords, TOTP with replay refusal, recovery codes, sessions, CSRF, roles, 2FA required."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import time_machine
from fixtures.console import PASSWORD, csrf_token, post_form, sign_in

from newsletter.core.extensions import db
from newsletter.models import Editor


def test_every_console_page_needs_a_session(client):
    for path in (
        "/console/week",
        "/console/articles",
        "/console/subscribers",
        "/console/activity",
        "/console/editors",
        "/console/account",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/console/sign-in" in response.headers["Location"]


def test_sign_in_with_name_or_email_and_password(client, make_account):
    account = make_account("Alena")
    response = sign_in(client, account)
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/week")
    page = client.get("/console/week")
    assert page.status_code == 200 and "Alena" in page.get_data(as_text=True)
    client.post("/console/sign-out", data={"csrf_token": csrf_token(client, "/console/week")})
    response = post_form(client, "/console/sign-in", {"login": "ALENA@example.org", "password": PASSWORD})
    assert response.status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(client, make_account):
    make_account("Alena")
    wrong = post_form(client, "/console/sign-in", {"login": "Alena", "password": "not the password"})
    unknown = post_form(client, "/console/sign-in", {"login": "Nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401

    def strip(page):  # the typed name and the per-response script nonce aside, the pages are the same
        return re.sub(r'nonce="[^"]+"', "", page.get_data(as_text=True).replace("Alena", "").replace("Nobody", ""))

    assert strip(wrong).split('name="csrf_token"')[0] == strip(unknown).split('name="csrf_token"')[0]
    assert "The name, password or code is not right." in wrong.get_data(as_text=True)
    assert client.get("/console/week").status_code == 302


def test_wrong_password_message_is_in_the_editors_language(client, make_account):
    make_account("Alena")
    post_form(client, "/console/language", {"language": "be"})
    wrong = post_form(client, "/console/sign-in", {"login": "Alena", "password": "nope nope nope"})
    assert "Імя, пароль або код няправільныя." in wrong.get_data(as_text=True)


def test_totp_sign_in_and_wrong_code(client, make_account):
    secret = pyotp.random_base32()
    account = make_account("Alena", totp_secret=secret)
    response = post_form(client, "/console/sign-in", {"login": "Alena", "password": PASSWORD})
    assert response.headers["Location"].endswith("/console/sign-in/code")
    assert client.get("/console/week").status_code == 302
    wrong = post_form(client, "/console/sign-in/code", {"code": "000000"}, token_from="/console/sign-in/code")
    assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
    right = post_form(
        client, "/console/sign-in/code", {"code": pyotp.TOTP(secret).now()}, token_from="/console/sign-in/code"
    )
    assert right.status_code == 302 and client.get("/console/week").status_code == 200
    assert account


def test_a_replayed_totp_code_is_refused(app, make_account):
    secret = pyotp.random_base32()
    account = make_account("Alena", totp_secret=secret)
    code = pyotp.TOTP(secret).now()
    first, second = app.test_client(), app.test_client()
    sign_in(first, account)
    assert (
        post_form(first, "/console/sign-in/code", {"code": code}, token_from="/console/sign-in/code").status_code == 302
    )
    sign_in(second, account)
    replay = post_form(second, "/console/sign-in/code", {"code": code}, token_from="/console/sign-in/code")
    assert replay.status_code == 401 and "already used" in replay.get_data(as_text=True)
    assert second.get("/console/week").status_code == 302


def test_turning_totp_on_shows_a_server_drawn_qr_and_recovery_codes_that_work_once(client, make_account):
    account = make_account("Alena")
    sign_in(client, account)
    page = client.get("/console/account").get_data(as_text=True)
    assert "<svg" in page and "otpauth" not in page.split("<svg")[0]
    secret = page.split("<code>")[1].split("</code>")[0]
    enabled = post_form(
        client, "/console/account", {"action": "enable", "code": pyotp.TOTP(secret).now()}, token_from="/console/week"
    )
    text = enabled.get_data(as_text=True)
    codes = text.split('<ul class="codes">')[1].split("</ul>")[0].replace("<li>", "").split("</li>")[:-1]
    assert len(codes) == 10
    assert db.session.get(Editor, account.id).totp_secret == secret
    for attempt in range(2):
        other = client.application.test_client()
        post_form(other, "/console/sign-in", {"login": "Alena", "password": PASSWORD})
        answer = post_form(other, "/console/sign-in/code", {"code": codes[0]}, token_from="/console/sign-in/code")
        assert answer.status_code == (302 if attempt == 0 else 401)


def test_expired_session_asks_to_sign_in_again(client, make_account):
    sign_in(client, make_account("Alena"))
    assert client.get("/console/week").status_code == 200
    with time_machine.travel(time.time() + 9 * 3600, tick=False):
        response = client.get("/console/week", follow_redirects=True)
    assert "Your session has expired. Please sign in again." in response.get_data(as_text=True)
    assert client.get("/console/week").status_code == 302


@pytest.mark.parametrize("token", ["", "foreign"])
def test_missing_or_foreign_csrf_token_is_refused_and_nothing_changes(app, client, make_account, token):
    sign_in(client, make_account("Alena"))
    if token == "foreign":
        other = app.test_client()
        token = csrf_token(other)
    response = client.post("/console/week/build", data={"csrf_token": token, "week": "2022-01-10"})
    assert response.status_code == 400
    assert "This form has expired or did not come from this console" in response.get_data(as_text=True)


def test_an_editor_is_refused_an_admin_page(editor_client):
    response = editor_client.get("/console/editors")
    assert response.status_code == 403 and "administrators only" in response.get_data(as_text=True)
    assert editor_client.get("/console/suppressions").status_code == 403


def test_admin_can_require_two_factor_for_everyone(app, client, make_account):
    app.config["CONSOLE_REQUIRE_2FA"] = True
    sign_in(client, make_account("Alena"))
    response = client.get("/console/week")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/account")
    assert "required for every account" in client.get("/console/account").get_data(as_text=True)


def test_console_pages_are_not_cached_and_send_a_strict_csp(admin_client):
    response = admin_client.get("/console/week")
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'nonce-" in csp and "unsafe-inline" not in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.get_data(as_text=True)


def test_session_cookie_is_secure_when_the_base_url_is_https(app_config, make_account):
    from newsletter import create_app

    app_config["BASE_URL"] = "https://newsletter.test"
    secure_app = create_app(app_config)
    assert secure_app.config["SESSION_COOKIE_SECURE"] and secure_app.config["SESSION_COOKIE_HTTPONLY"]
    assert secure_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_cli_creates_an_admin_with_email_and_sets_a_password(runner):
    created = runner.invoke(args=["editors", "create", "Alena", "--email", "alena@example.org", "--role", "admin"])
    assert created.exit_code == 0 and len(created.stdout.strip().splitlines()[-1]) > 20
    result = runner.invoke(args=["editors", "set-password", "Alena", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    short = runner.invoke(args=["editors", "set-password", "Alena", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    missing = runner.invoke(args=["editors", "set-password", "Nobody", "--password-stdin"], input=PASSWORD + "\n")
    assert missing.exit_code == 1 and "no active editor" in missing.output
    bad_role = runner.invoke(args=["editors", "create", "Pavel", "--role", "owner"])
    assert bad_role.exit_code == 2


def test_sign_in_attempts_are_rate_limited_the_same_for_every_account(app_config, make_account):
    from newsletter import create_app

    app_config["RATE_LIMITS"] = "sign-in=3/minute"
    limited = create_app(app_config)
    client = limited.test_client()
    with limited.app_context():
        make_account("Alena")
        answers = [
            post_form(client, "/console/sign-in", {"login": login, "password": "wrong password"})
            for login in ("Alena", "Nobody", "Alena", "Nobody")
        ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert "Too many sign-in attempts" in answers[-1].get_data(as_text=True)
    assert answers[-1].headers.get("Retry-After")


def test_the_editors_language_is_remembered_on_the_account(app, client, make_account):
    account = make_account("Alena")
    sign_in(client, account)
    post_form(client, "/console/language", {"language": "ru", "next": "/console/week"}, token_from="/console/week")
    assert db.session.get(Editor, account.id).console_language == "ru"
    other = app.test_client()
    sign_in(other, account)
    page = other.get("/console/week").get_data(as_text=True)
    assert '<html lang="ru">' in page and "Эта неделя" in page
