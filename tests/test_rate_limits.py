"""Rate limits: per client IP on public POSTs, per address and overall on the emails they cause."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta

import pytest
import time_machine
from conftest import _empty_all_tables as empty_all_tables
from fixtures.subscribers import queued_messages

from newsletter import create_app
from newsletter.core import rate_limits
from newsletter.core.config import ConfigError
from newsletter.core.extensions import csrf, db
from newsletter.models import utcnow

pytestmark = pytest.mark.usefixtures("limits_on")


@pytest.fixture
def limits_on(app_config):
    """The limits as shipped (the test configuration may switch them off for other tests)."""
    app_config.pop("RATE_LIMITS", None)


@pytest.fixture
def app_with(app_config):
    """An app with these settings on top of the test configuration, on an empty database."""
    made = []

    def make(**settings):
        app = create_app({**app_config, **settings})
        context = app.app_context()
        context.push()
        made.append((app, context))
        empty_all_tables()
        return app

    yield make
    for _app, context in reversed(made):
        db.session.remove()
        db.engine.dispose()
        context.pop()


def _subscribe(client, number: int, **headers):
    return client.post(
        "/api/v1/subscriptions",
        json={"email": f"reader{number}@example.org", "languages": ["en"]},
        headers=headers,
    )


def test_one_ip_subscribing_many_addresses_gets_429_after_the_documented_limit(client):
    per_minute = int(rate_limits.DEFAULT_LIMITS[rate_limits.SUBSCRIBE].split(",")[0].split("/")[0])
    codes = [_subscribe(client, number).status_code for number in range(200)]
    assert codes[:per_minute] == [202] * per_minute
    assert set(codes[per_minute:]) == {429}
    assert len(queued_messages()) == per_minute


def test_with_limits_off_every_request_is_accepted(app_with):
    client = app_with(RATE_LIMITS="off").test_client()
    assert {_subscribe(client, number).status_code for number in range(200)} == {202}


def test_429_carries_retry_after_and_speaks_the_request_language(client):
    for number in range(10):
        _subscribe(client, number)
    refused = _subscribe(client, 99, **{"Accept-Language": "be"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"]["message"] == "Занадта шмат запытаў. Паспрабуйце пазней."


def test_accepted_requests_carry_limit_headers_but_no_retry_after(client):
    accepted = _subscribe(client, 1)
    assert accepted.headers["X-RateLimit-Limit"] == "10" and accepted.headers["X-RateLimit-Remaining"] == "9"
    assert "Retry-After" not in accepted.headers


def test_the_form_says_so_inline_and_keeps_what_was_typed(client, form_token):
    token = form_token()
    for number in range(10):
        _subscribe(client, number)
    response = client.post(
        "/subscribe?lang=ru",
        data={"email": "kept@example.org", "languages": ["ru"], "csrf_token": token},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert "Слишком много подписок из вашей сети" in page and 'value="kept@example.org"' in page
    assert '<form method="post"' in page


def test_limits_follow_the_client_ip_behind_the_configured_proxies(app_with):
    client = app_with(PROXY_HOPS=1).test_client()
    for number in range(10):
        assert _subscribe(client, number, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 202
    assert _subscribe(client, 10, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert _subscribe(client, 11, **{"X-Forwarded-For": "198.51.100.9"}).status_code == 202


def _resubscribe_after_each_window(app, client, times: int):
    """The same address from a new IP each time, each time after the resend window; yields each answer."""
    for step in range(times):
        moment = utcnow() + timedelta(seconds=step * (app.config["CONFIRM_RESEND_SECONDS"] + 1))
        with time_machine.travel(moment):
            yield client.post(
                "/api/v1/subscriptions",
                json={"email": "target@example.org", "languages": ["en"]},
                environ_base={"REMOTE_ADDR": f"192.0.2.{step + 1}"},
            )


def test_confirmation_emails_per_address_are_limited(app, client):
    queued = [len(queued_messages()) for _response in _resubscribe_after_each_window(app, client, 6)]
    assert queued == [1, 2, 3, 3, 3, 3]


def test_address_limited_request_gets_the_same_answer(app, client):
    answers = {
        (response.status_code, response.get_data()) for response in _resubscribe_after_each_window(app, client, 5)
    }
    assert len(answers) == 1


def test_global_transactional_ceiling(app_with):
    client = app_with(RATE_LIMITS="subscribe=off; transactional-mail=3/hour").test_client()
    assert {_subscribe(client, number).status_code for number in range(6)} == {202}
    assert len(queued_messages()) == 3


@pytest.mark.parametrize("raw", ["subscribe", "nonsense=5/minute", "subscribe=lots", "subscribe=5/fortnight"])
def test_bad_limit_settings_are_refused_naming_the_variable(app_config, raw):
    app_config["RATE_LIMITS"] = raw
    with pytest.raises(ConfigError, match="NEWSLETTER_RATE_LIMITS"):
        create_app(app_config)


def test_bad_storage_url_is_refused_naming_the_variable(app_config):
    app_config["RATE_LIMIT_STORAGE_URL"] = "mongodb://127.0.0.1"
    with pytest.raises(ConfigError, match="NEWSLETTER_RATE_LIMIT_STORAGE_URL"):
        create_app(app_config)


def test_settings_syntax():
    parsed = rate_limits.parse_settings("subscribe = 2/minute,20/hour; sign-in=off", None)
    assert parsed.for_name("subscribe") == "2/minute,20/hour" and parsed.for_name("sign-in") == ""
    assert parsed.for_name("confirm") == rate_limits.DEFAULT_LIMITS["confirm"]
    assert rate_limits.parse_settings("OFF", None).limits == {}


def test_sign_in_limit_applies_to_a_view_in_one_line(app_with):
    app = app_with()

    @app.route("/test-sign-in", methods=["GET", "POST"])
    @csrf.exempt
    @rate_limits.limit(rate_limits.SIGN_IN)
    def sign_in():
        return "ok"

    client = app.test_client()
    assert {client.get("/test-sign-in").status_code for _ in range(10)} == {200}
    codes = [client.post("/test-sign-in").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis at 127.0.0.1:6379")
def test_counts_are_shared_through_redis(app_with):
    """Two apps (two processes in production) count against one Redis store."""
    settings = {
        "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/9",
        "RATELIMIT_KEY_PREFIX": f"newsletter-test-issue9-{uuid.uuid4().hex}",
    }
    client = app_with(**settings).test_client()
    assert {_subscribe(client, number).status_code for number in range(6)} == {202}
    client = app_with(**settings).test_client()
    codes = [_subscribe(client, number).status_code for number in range(6, 12)]
    assert codes == [202] * 4 + [429] * 2


def test_unreachable_redis_fails_open_without_a_500(app_with):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = app_with(RATE_LIMIT_STORAGE_URL=f"redis://127.0.0.1:{port}/0").test_client()
    assert _subscribe(client, 1).status_code == 202
    assert len(queued_messages()) == 1
