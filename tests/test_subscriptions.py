"""Subscribing through the JSON API and the form: double opt-in, the same answer whatever the state, bad input."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import pytest
import time_machine
from fixtures.settings import current_settings, smtp_utf8
from fixtures.subscribers import CSRF_FIELD, confirm_path_in, parse_message, queued_messages, snapshot, text_part
from sqlalchemy import bindparam, select, text

from newsletter.core.extensions import db
from newsletter.models import Consent, Delivery, Subscriber, utcnow
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED
from newsletter.models.types import UTCDateTime
from newsletter.subscribers import subscriptions

ADDRESS = "reader@example.org"


def subscriber(address: str = ADDRESS) -> Subscriber | None:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber).where(Subscriber.email == address))


# --- the API, happy paths -------------------------------------------------------------------------


def test_new_address_is_pending_with_one_confirmation_queued(client, subscribe_via_api):
    response = subscribe_via_api(ADDRESS, ["ru", "en"], **{"User-Agent": "pytest-agent"})
    assert response.status_code == 202
    row = subscriber()
    assert row.status == PENDING and row.pending_languages == ["en", "ru"] and row.confirmed_languages == []
    consent = row.consents[0]
    assert consent.source == "api" and consent.languages == "ru en" and consent.user_agent == "pytest-agent"
    assert consent.request_ip == "127.0.0.1" and consent.consent_text_version and consent.confirmed_at is None
    [message] = queued_messages()
    parsed = parse_message(message)
    assert parsed["To"] == ADDRESS and parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == "Подтвердите подписку на Belarus Weekly"
    assert "по-русски и по-английски" in text_part(message)
    assert confirm_path_in(message).startswith("/confirm/")


def test_the_answer_is_the_same_whatever_the_address_state(client, subscribe_via_api, add_subscriber):
    add_subscriber("confirmed@example.org", ["en"])
    add_subscriber("left@example.org", [], status=UNSUBSCRIBED)
    bodies = set()
    for address in ("new@example.org", "new@example.org", "confirmed@example.org", "left@example.org"):
        response = subscribe_via_api(address, ["en"])
        assert response.status_code == 202
        bodies.add(response.get_data())
    assert len(bodies) == 1


def test_pending_address_gets_at_most_one_confirmation_per_window(app, client, subscribe_via_api):
    subscribe_via_api(ADDRESS, ["en"])
    subscribe_via_api(ADDRESS, ["en"])
    assert len(queued_messages()) == 1
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["CONFIRM_RESEND_SECONDS"] + 1)):
        assert subscribe_via_api(ADDRESS, ["be"]).status_code == 202
        assert len(queued_messages()) == 2
    assert subscriber().pending_languages == ["be"]


def test_confirmed_subscriber_new_languages_wait_for_a_click(app, client, subscribe_via_api, add_subscriber):
    add_subscriber(ADDRESS, ["en"])
    assert subscribe_via_api(ADDRESS, ["en", "be"]).status_code == 202
    row = subscriber()
    assert row.status == CONFIRMED and row.confirmed_languages == ["en"] and row.pending_languages == ["be"]
    [message] = queued_messages()
    assert client.post(confirm_path_in(message)).status_code == 200
    assert subscriber().confirmed_languages == ["be", "en"]


def test_confirmed_subscriber_gets_the_new_confirmation_in_the_language_they_used(client, add_subscriber):
    add_subscriber(ADDRESS, ["en"], locale="en")
    client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["en", "ru"], "locale": "be"})
    [message] = queued_messages()
    assert parse_message(message)["Subject"] == "Пацвердзіце падпіску на Belarus Weekly"
    assert subscriber().locale == "be"


def test_confirmed_subscriber_without_a_page_locale_gets_the_first_chosen_language(client, add_subscriber):
    add_subscriber(ADDRESS, ["en"], locale="en")
    client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["ru", "en"]})
    [message] = queued_messages()
    assert parse_message(message)["Subject"] == "Подтвердите подписку на Belarus Weekly"


def test_confirmed_subscriber_asking_again_for_the_same_languages_only_gets_a_notice(
    client, subscribe_via_api, add_subscriber
):
    add_subscriber(ADDRESS, ["en", "ru"])
    before = snapshot()
    assert subscribe_via_api(ADDRESS, ["ru"]).status_code == 202
    after = snapshot()
    assert after["languages"] == before["languages"] and after["consents"] == before["consents"] == []
    assert [row["kind"] for row in after["deliveries"]] == ["already_subscribed"]
    [message] = queued_messages()
    assert parse_message(message)["Subject"] == "You are already subscribed to Belarus Weekly"
    assert subscriber().status == CONFIRMED and subscriber().confirmed_languages == ["en", "ru"]


def test_unsubscribed_address_goes_through_double_opt_in_again(client, subscribe_via_api, add_subscriber):
    add_subscriber(ADDRESS, [], status=UNSUBSCRIBED)
    subscribe_via_api(ADDRESS, ["ru"])
    row = subscriber()
    assert row.status == UNSUBSCRIBED and row.pending_languages == ["ru"]
    [message] = queued_messages()
    client.post(confirm_path_in(message))
    assert subscriber().status == CONFIRMED and subscriber().confirmed_languages == ["ru"]


def test_address_is_normalised_to_one_subscriber(client, subscribe_via_api, app):
    app.config["CONFIRM_RESEND_SECONDS"] = 0
    subscribe_via_api("Reader@EXAMPLE.org", ["en"])
    subscribe_via_api("  Reader@example.ORG ", ["en"])
    subscribe_via_api("user@Bücher.example", ["en"])
    addresses = sorted(db.session.scalars(select(Subscriber.email)))
    assert addresses == ["reader@example.org", "user@xn--bcher-kva.example"]


def test_confirmation_is_in_the_first_chosen_language_or_the_given_locale(client):
    client.post("/api/v1/subscriptions", json={"email": "a@example.org", "languages": ["en", "be"]})
    client.post("/api/v1/subscriptions", json={"email": "b@example.org", "languages": ["en"], "locale": "ru"})
    first, second = queued_messages()
    assert parse_message(first)["Subject"] == "Пацвердзіце падпіску на Belarus Weekly"
    assert parse_message(second)["Subject"] == "Подтвердите подписку на Belarus Weekly"


def test_non_ascii_local_part_is_accepted_when_smtp_carries_it(app, client, subscribe_via_api):
    app.config["SMTP_UTF8"] = True
    assert subscribe_via_api("читатель@example.org", ["ru"]).status_code == 202
    assert subscriber("читатель@example.org").status == PENDING


# --- the API, bad input ---------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param({"languages": ["en"]}, "email", id="missing-email"),
    pytest.param({"email": ADDRESS}, "languages", id="missing-languages"),
    pytest.param({"email": ADDRESS, "languages": []}, "languages", id="empty-languages"),
    pytest.param({"email": ADDRESS, "languages": ["de"]}, "languages", id="unknown-language"),
    pytest.param({"email": ADDRESS, "languages": "en"}, "languages", id="languages-not-a-list"),
    pytest.param({"email": ADDRESS, "languages": [None]}, "languages", id="language-not-a-string"),
    pytest.param({"email": "not-an-address", "languages": ["en"]}, "email", id="invalid"),
    pytest.param({"email": "", "languages": ["en"]}, "email", id="empty-email"),
    pytest.param({"email": 42, "languages": ["en"]}, "email", id="email-not-a-string"),
    pytest.param({"email": "a" * 60 + "@" + "b" * 190 + ".org", "languages": ["en"]}, "email", id="too-long"),
    pytest.param({"email": "reader@example.org\r\nBcc: x@example.org", "languages": ["en"]}, "email", id="crlf"),
    pytest.param({"email": "reader\n@example.org", "languages": ["en"]}, "email", id="lf"),
    pytest.param({"email": "reader\x00@example.org", "languages": ["en"]}, "email", id="nul"),
    pytest.param({"email": "читатель@example.org", "languages": ["en"]}, "email", id="non-ascii-local-part"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_bad_fields_get_a_422_per_field_and_change_nothing(client, add_subscriber, body, field):
    add_subscriber("someone@example.org", ["en"])
    before = snapshot()
    response = client.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert field in errors and errors[field]
    assert snapshot() == before


def test_both_bad_fields_are_reported_at_once_in_the_request_language(client):
    response = client.post("/api/v1/subscriptions?lang=be", json={"email": "nope", "languages": ["xx"]})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "email": "Гэта няправільны адрас электроннай пошты.",
        "languages": "Выберыце мовы з беларускай (be), рускай (ru) і англійскай (en).",
    }
    response = client.post("/api/v1/subscriptions", json={"languages": ["en"]}, headers={"Accept-Language": "ru"})
    assert response.get_json()["errors"] == {"email": "Это поле обязательно."}


def test_a_client_address_that_would_not_fit_its_column_is_not_stored(client):
    body = {"email": ADDRESS, "languages": ["en"]}
    odd_remote = {"REMOTE_ADDR": "2001:db8::1%" + "x" * 60}
    response = client.post("/api/v1/subscriptions", json=body, environ_base=odd_remote)
    assert response.status_code == 202
    consent = subscriber().consents[0]
    assert consent.request_ip is None


def test_too_long_address_is_explained(client):
    response = client.post("/api/v1/subscriptions", json={"email": "a" * 250 + "@example.org", "languages": ["en"]})
    assert "254" in response.get_json()["errors"]["email"]


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        pytest.param(
            b'{"email": "reader@example.org", "languages": ["en"]', "application/json", 400, id="malformed-json"
        ),
        pytest.param(b"\xff\xfe{}", "application/json", 400, id="not-utf8"),
        pytest.param(b"", "application/json", 400, id="empty-body"),
        pytest.param(b'["reader@example.org"]', "application/json", 422, id="not-an-object"),
        pytest.param(b"[" * 30000 + b"]" * 30000, "application/json", 400, id="deeply-nested"),
        pytest.param(
            b"email=reader@example.org&languages=en", "application/x-www-form-urlencoded", 415, id="form-encoded"
        ),
        pytest.param(b'{"email": "reader@example.org", "languages": ["en"]}', "text/plain", 415, id="text-plain"),
    ],
)
def test_unreadable_bodies_are_a_clear_4xx(client, data, content_type, status):
    response = client.post(
        "/api/v1/subscriptions", data=data, content_type=content_type, headers={"Accept-Language": "ru"}
    )
    assert response.status_code == status
    assert response.get_json()["errors"]["body"]
    assert snapshot()["subscribers"] == []


def test_oversize_bodies_are_413(app, client, form_token):
    padding = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = client.post("/api/v1/subscriptions", json={"email": ADDRESS, "languages": ["en"], "pad": padding})
    assert response.status_code == 413 and response.get_json()["error"]["code"] == 413
    token = form_token()
    response = client.post(
        "/subscribe", data={"csrf_token": token, "email": ADDRESS, "languages": "en", "pad": padding}
    )
    assert response.status_code == 413
    assert snapshot()["subscribers"] == []


# --- the form ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language, heading", [("be", "Падпіска на"), ("ru", "Подписка на"), ("en", "Subscribe to")])
def test_form_page_in_each_language(client, language, heading):
    page = client.get(f"/subscribe?lang={language}").get_data(as_text=True)
    assert f'lang="{language}"' in page and heading in page
    assert 'for="email"' in page and 'autocomplete="email"' in page and 'name="csrf_token"' in page


def test_form_page_follows_accept_language(client):
    page = client.get("/subscribe", headers={"Accept-Language": "ru-RU,ru;q=0.9"}).get_data(as_text=True)
    assert '<html lang="ru">' in page


def test_form_submission_confirms_in_the_page_language(client, form_token):
    token = form_token("/subscribe?lang=be")
    response = client.post(
        "/subscribe?lang=be",
        data={"csrf_token": token, "email": ADDRESS, "languages": ["ru", "en"]},
        headers={"Referer": "http://newsletter.test/subscribe?lang=be"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/subscribe/sent?lang=be"
    assert "Праверце пошту" in client.get(response.headers["Location"]).get_data(as_text=True)
    row = subscriber()
    assert row.locale == "be" and row.pending_languages == ["en", "ru"]
    assert row.consents[0].source == "form" and row.consents[0].source_page.endswith("/subscribe?lang=be")
    [message] = queued_messages()
    assert parse_message(message)["Subject"] == "Пацвердзіце падпіску на Belarus Weekly"


def test_form_records_the_page_it_was_shown_on(client):
    page = client.get("/subscribe?lang=ru").get_data(as_text=True)
    token = CSRF_FIELD.search(page).group(1)
    shown_on = re.search(r'name="page" value="([^"]+)"', page).group(1)
    client.post("/subscribe?lang=ru", data={"csrf_token": token, "page": shown_on, "email": ADDRESS, "languages": "ru"})
    assert subscriber().consents[0].source_page == "http://localhost/subscribe?lang=ru"


def test_form_answers_alike_for_known_and_unknown_addresses(client, form_token, add_subscriber):
    add_subscriber("confirmed@example.org", ["en"])
    pages = set()
    for address in ("confirmed@example.org", "new@example.org"):
        response = client.post("/subscribe", data={"csrf_token": form_token(), "email": address, "languages": "en"})
        page = re.sub(r'nonce="[^"]+"', 'nonce=""', response.get_data(as_text=True))  # one per response, by design
        pages.add((response.status_code, page))
    assert len(pages) == 1


def test_form_errors_are_inline_in_the_page_language_and_change_nothing(client, form_token):
    token = form_token("/subscribe?lang=ru")
    response = client.post("/subscribe?lang=ru", data={"csrf_token": token, "email": "nope@", "website": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in page and 'id="email-error"' in page and 'value="nope@"' in page
    assert "Это неправильный адрес электронной почты." in page and "Выберите хотя бы один язык." in page
    assert snapshot()["subscribers"] == []


def test_form_without_csrf_token_is_refused(client):
    response = client.post("/subscribe", data={"email": ADDRESS, "languages": "en"})
    assert response.status_code == 400
    assert 'value="reader@example.org"' in response.get_data(as_text=True)
    assert snapshot()["subscribers"] == []


def test_honeypot_silently_drops_bots(client, form_token):
    response = client.post(
        "/subscribe", data={"csrf_token": form_token(), "email": ADDRESS, "languages": "en", "website": "http://spam"}
    )
    assert response.status_code == 303 and response.headers["Location"].startswith("/subscribe/sent")
    assert snapshot() == {"subscribers": [], "languages": [], "consents": [], "deliveries": []}


# --- the service -------------------------------------------------------------------------------


def test_rejected_request_raises_with_every_field(app):
    origin = subscriptions.RequestOrigin("api")
    with pytest.raises(subscriptions.InvalidSubscription) as raised, app.test_request_context():
        subscriptions.build_request("x", [], None, origin, smtp_utf8=smtp_utf8())
    assert set(raised.value.errors) == {"email", "languages"}


def test_purge_pending_removes_only_stale_requests(app, client, subscribe_via_api, add_subscriber):
    add_subscriber("kept@example.org", ["en"])
    subscribe_via_api("stale@example.org", ["en"])
    with time_machine.travel(utcnow() + timedelta(days=6)):
        subscribe_via_api("fresh@example.org", ["en"])
        subscribe_via_api("kept@example.org", ["be"])
    with time_machine.travel(utcnow() + timedelta(days=8)):
        result = subscriptions.purge_pending(current_settings().privacy.confirm_max_age)
    assert result.subscribers == 1
    assert sorted(db.session.scalars(select(Subscriber.email))) == ["fresh@example.org", "kept@example.org"]
    assert subscriber("kept@example.org").pending_languages == ["be"]
    orphaned = db.session.scalars(select(Delivery).where(Delivery.subscriber_id.is_(None))).all()
    assert len(orphaned) == 1
    assert result.consents == 1
    kept_consents = db.session.scalars(select(Consent.subscriber_id)).all()
    assert sorted(kept_consents) == sorted([subscriber("fresh@example.org").id, subscriber("kept@example.org").id])


def _add_stale_pending(count: int, when) -> None:
    """Insert `count` pending subscribers at once (one INSERT … SELECT over a generated series)."""
    if db.engine.dialect.name == "postgresql":
        numbers = "SELECT n FROM generate_series(1, :count) AS n"
    else:
        numbers = "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :count) SELECT n FROM s"
    statement = text(
        "INSERT INTO subscribers (email, status, locale, created_at) "
        f"SELECT 'stale' || n || '@example.org', 'pending', 'en', :when FROM ({numbers}) AS numbers"
    ).bindparams(bindparam("when", type_=UTCDateTime))
    db.session.execute(statement, {"count": count, "when": when})
    db.session.commit()


@pytest.fixture
def few_query_parameters(app):
    """SQLite allows 250000 parameters per statement by default; lower it so a long IN list would fail."""
    if db.engine.dialect.name != "sqlite":
        yield 65_535
        return
    sqlite = db.session.connection().connection.driver_connection
    original = sqlite.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    try:
        yield 999
    finally:
        db.session.rollback()
        sqlite.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, original)


def test_purge_pending_handles_more_stale_requests_than_a_query_can_list(app, add_subscriber, few_query_parameters):
    stale_count = few_query_parameters + 1000
    _add_stale_pending(stale_count, utcnow() - timedelta(days=30))
    add_subscriber("kept@example.org", ["en"])
    result = subscriptions.purge_pending(current_settings().privacy.confirm_max_age)
    assert result.subscribers == stale_count
    assert db.session.scalars(select(Subscriber.email)).all() == ["kept@example.org"]


@pytest.mark.postgres_only
def test_simultaneous_requests_for_a_new_address_make_one_subscriber_and_one_email(app):
    import threading

    origin = subscriptions.RequestOrigin("api")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def request_once():
        with app.test_request_context():
            try:
                barrier.wait(timeout=10)
                subscriptions.subscribe(
                    subscriptions.build_request(ADDRESS, ["en"], "en", origin, smtp_utf8=smtp_utf8()),
                    current_settings(),
                )
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len(snapshot()["subscribers"]) == 1 and len(queued_messages()) == 1
