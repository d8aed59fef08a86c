"""Per-account throttling of console sign-in: guesses from many addresses add up on the account, a lock
answers like a wrong password, too many wrong codes need the password again, and the owner is told."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email import message_from_bytes, policy

import pyotp
import pytest
import time_machine
from fixtures.console import PASSWORD, csrf_token, post_form
from sqlalchemy import select
from test_confirmation_delivery import run_worker

from newsletter.accounts import lockout
from newsletter.core.extensions import db
from newsletter.models import ActivityEntry, Delivery
from newsletter.models.delivery import DeliveryKind


@pytest.fixture
def behind_a_proxy(app_config):
    app_config["PROXY_HOPS"] = 1


@pytest.fixture
def no_ip_limits(app_config):
    """The per-IP limits are tested on their own; here one client makes many attempts."""
    app_config["RATE_LIMITS"] = "off"


def _attempt(client, token: str, login: str, password: str, address: str):
    return client.post(
        "/console/sign-in",
        data={"csrf_token": token, "login": login, "password": password},
        headers={"X-Forwarded-For": address},
    )


def _signed_in(client, address: str = "127.0.0.1") -> bool:
    return client.get("/console/week", headers={"X-Forwarded-For": address}).status_code == 200


def test_the_lock_grows_from_the_fifth_failure_doubling_up_to_an_hour():
    assert [lockout.lock_length(n) for n in range(1, 5)] == [None] * 4
    assert [lockout.lock_length(n).total_seconds() / 60 for n in range(5, 12)] == [1, 2, 4, 8, 16, 32, 60]
    assert lockout.lock_length(100) == timedelta(hours=1)


def test_100_wrong_passwords_from_100_addresses_lock_the_account(behind_a_proxy, app, client, make_account):
    account = make_account("Alena")
    token = csrf_token(client)
    for number in range(100):
        wrong = _attempt(client, token, "Alena", f"guess number {number}", f"198.51.{number // 250}.{number % 250 + 1}")
        assert wrong.status_code == 401, number
    right = _attempt(client, token, "Alena", PASSWORD, "203.0.113.7")
    assert right.status_code == 401 and not _signed_in(client, "203.0.113.7")
    with time_machine.travel(time.time() + 3601, tick=False):
        again = _attempt(client, csrf_token(client), "Alena", PASSWORD, "203.0.113.8")
        assert again.status_code == 302 and _signed_in(client, "203.0.113.8")
    assert account


def test_a_locked_account_gets_the_answer_of_a_wrong_password(no_ip_limits, app, client, make_account):
    make_account("Alena")
    token = csrf_token(client)
    wrong = _attempt(client, token, "Alena", "not the password", "127.0.0.1")
    for _ in range(5):
        _attempt(client, token, "Alena", "not the password", "127.0.0.1")
    locked = _attempt(client, token, "Alena", PASSWORD, "127.0.0.1")

    def page(response):
        return re.sub(r'nonce="[^"]+"|name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))

    assert locked.status_code == wrong.status_code == 401 and page(locked) == page(wrong)


def test_a_lock_is_logged_once_and_its_owner_emailed_through_the_ledger(
    no_ip_limits, app, client, make_account, outbox
):
    make_account("Alena")
    token = csrf_token(client)
    for _ in range(8):
        _attempt(client, token, "Alena", "not the password", "127.0.0.1")
    entries = db.session.scalars(select(ActivityEntry).where(ActivityEntry.action == "account_locked")).all()
    assert [(entry.subject, entry.detail) for entry in entries] == [("Alena", "5 failed attempts")]
    [notice] = db.session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.ACCOUNT_LOCKED)).all()
    assert notice.recipient == "alena@example.org" and notice.subscriber_id is None
    run_worker(app)
    [sent] = outbox.glob("*.eml")
    message = message_from_bytes(sent.read_bytes(), policy=policy.default)
    assert message["To"] == "alena@example.org" and "locked" in message["Subject"]
    assert "ends by itself" in message.get_body(("plain",)).get_content()


def test_100_wrong_codes_after_one_right_password_then_the_password_is_needed_again(
    no_ip_limits, app, client, make_account
):
    secret = pyotp.random_base32()
    make_account("Alena", totp_secret=secret)
    assert post_form(client, "/console/sign-in", {"login": "Alena", "password": PASSWORD}).status_code == 302
    token = csrf_token(client, "/console/sign-in/code")
    answers = []
    for number in range(100):
        response = client.post("/console/sign-in/code", data={"csrf_token": token, "code": f"{number:06d}"})
        answers.append(response.status_code)
    assert answers[: lockout.CODE_TRIES - 1] == [401] * (lockout.CODE_TRIES - 1)
    refused = answers[lockout.CODE_TRIES - 1 :]
    assert set(refused) == {302}, "after the limit every code is turned back to the password step"
    right = client.post("/console/sign-in/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302 and right.headers["Location"].endswith("/console/sign-in")
    assert not _signed_in(client)
    later = time.time() + 3601  # the wrong codes locked the account too; once that passes, password then code
    with time_machine.travel(later, tick=False):
        assert post_form(client, "/console/sign-in", {"login": "Alena", "password": PASSWORD}).status_code == 302
        code = pyotp.TOTP(secret).at(later)
        done = post_form(client, "/console/sign-in/code", {"code": code}, token_from="/console/sign-in/code")
        assert done.status_code == 302 and _signed_in(client)


def test_a_complete_sign_in_clears_the_count(no_ip_limits, app, client, make_account):
    make_account("Alena")
    token = csrf_token(client)
    for _ in range(4):
        _attempt(client, token, "Alena", "not the password", "127.0.0.1")
    assert _attempt(client, token, "Alena", PASSWORD, "127.0.0.1").status_code == 302
    client.post("/console/sign-out", data={"csrf_token": csrf_token(client, "/console/week")})
    token = csrf_token(client)
    for _ in range(4):
        _attempt(client, token, "Alena", "not the password", "127.0.0.1")
    assert _attempt(client, token, "Alena", PASSWORD, "127.0.0.1").status_code == 302
