"""Console sessions live on the server: a copied cookie dies with sign-out, a password change, an admin's
"sign out everywhere" or an end from the account page; idle and absolute lifetimes; the sessions listed."""

from __future__ import annotations

import time

import time_machine
from fixtures.console import csrf_token, post_form, sign_in
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.models import ActivityEntry, ConsoleSession

COOKIE = "session"


def _copy_cookie(app, client):
    """A second client holding exactly the first one's cookie (as a thief who copied it would)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value, domain="localhost")
    return thief


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, client, make_account):
    sign_in(client, make_account("Alena", role="admin"))
    thief = _copy_cookie(app, client)
    assert thief.get("/console/editors").status_code == 200
    client.post("/console/sign-out", data={"csrf_token": csrf_token(client, "/console/week")})
    for path in ("/console/week", "/console/editors"):
        response = thief.get(path)
        assert response.status_code == 302 and "/console/sign-in" in response.headers["Location"]
    assert client.get("/console/week").status_code == 302


def test_the_session_id_in_the_cookie_is_stored_only_as_a_hash(app, client, make_account):
    sign_in(client, make_account("Alena"))
    [record] = db.session.scalars(select(ConsoleSession))
    assert record.ended_at is None and len(record.key_hash) == 64
    assert record.key_hash not in client.get_cookie(COOKIE).value


def test_a_password_change_ends_every_other_session_at_once(app, client, make_account):
    account = make_account("Alena")
    sign_in(client, account)
    other = app.test_client()
    sign_in(other, account)
    new = "another long password"
    changed = post_form(
        client,
        "/console/account",
        {"action": "password", "current_password": account.password, "new_password": new},
        token_from="/console/account",
    )
    assert changed.status_code == 302
    assert other.get("/console/week").status_code == 302
    assert client.get("/console/week").status_code == 200


def test_an_admin_signs_an_editor_out_everywhere(app, client, make_account):
    editor = make_account("Pavel")
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, editor)
    sign_in(phone, editor)
    sign_in(client, make_account("Alena", role="admin"))
    page = client.get("/console/editors").get_data(as_text=True)
    assert f"/console/editors/{editor.id}/sign-out" in page
    response = post_form(client, f"/console/editors/{editor.id}/sign-out", token_from="/console/editors")
    assert response.status_code == 302
    assert laptop.get("/console/week").status_code == 302 and phone.get("/console/week").status_code == 302
    assert client.get("/console/week").status_code == 200
    entry = db.session.scalar(select(ActivityEntry).where(ActivityEntry.action == "account_sign_out"))
    assert entry.subject == "Pavel" and entry.actor == "Alena"


def test_an_editor_cannot_sign_others_out(app, editor_client, make_account):
    admin = make_account("Alena", role="admin")
    response = post_form(editor_client, f"/console/editors/{admin.id}/sign-out", token_from="/console/week")
    assert response.status_code == 403


def test_the_account_page_lists_live_sessions_and_ends_one(app, client, make_account):
    account = make_account("Alena")
    other = app.test_client()
    other.environ_base = {"HTTP_USER_AGENT": "Firefox on the office PC", "REMOTE_ADDR": "127.0.0.9"}
    sign_in(other, account)
    client.environ_base = {"HTTP_USER_AGENT": "Chromium at home"}
    sign_in(client, account)
    page = client.get("/console/account").get_data(as_text=True)
    assert "Firefox on the office PC" in page and "127.0.0.9" in page and "Chromium at home" in page
    assert "(this session)" in page
    office = db.session.scalar(select(ConsoleSession).where(ConsoleSession.user_agent.startswith("Firefox")))
    ended = post_form(client, f"/console/account/sessions/{office.id}/end", token_from="/console/account")
    assert ended.status_code == 302
    assert other.get("/console/week").status_code == 302
    page = client.get("/console/account").get_data(as_text=True)
    assert "Firefox on the office PC" not in page and client.get("/console/week").status_code == 200


def test_one_cannot_end_someone_elses_session(app, client, make_account):
    victim = app.test_client()
    sign_in(victim, make_account("Pavel"))
    theirs = db.session.scalar(select(ConsoleSession))
    sign_in(client, make_account("Alena"))
    post_form(client, f"/console/account/sessions/{theirs.id}/end", token_from="/console/account")
    assert victim.get("/console/week").status_code == 200


def test_a_session_expires_when_idle_and_after_its_lifetime_however_busy(app, client, make_account):
    app.config.update(CONSOLE_SESSION_MINUTES=30, CONSOLE_SESSION_MAX_HOURS=2)
    sign_in(client, make_account("Alena"))
    start = time.time()
    with time_machine.travel(start + 31 * 60, tick=False):
        assert client.get("/console/week").status_code == 302
    sign_in(client, make_account("Pavel"))
    for minutes in range(20, 120, 20):  # a request every 20 minutes keeps it alive until the lifetime ends
        with time_machine.travel(start + minutes * 60, tick=False):
            assert client.get("/console/week").status_code == 200, minutes
    with time_machine.travel(start + 2 * 3600 + 60, tick=False):
        assert client.get("/console/week").status_code == 302
