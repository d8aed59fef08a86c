"""Recorded request fields (page, User-Agent, Referer) are cleaned and cut; no answer tells an address's state."""

from __future__ import annotations

import pytest
from fixtures.subscribers import CSRF_FIELD
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.core.request_text import MAX_PAGE_LENGTH, MAX_USER_AGENT_LENGTH
from newsletter.models import Consent
from newsletter.models.subscribers import PENDING, UNSUBSCRIBED

STATES = ("new", "pending", "confirmed", "unsubscribed")
NUL, SURROGATE = "\x00", "\ud800"


@pytest.fixture(autouse=True)
def no_rate_limits(app_config):
    app_config["RATE_LIMITS"] = "off"


@pytest.fixture
def addresses(add_subscriber):
    """One address in each state."""
    add_subscriber("pending@example.org", ["en"], status=PENDING)
    add_subscriber("confirmed@example.org", ["en"])
    add_subscriber("unsubscribed@example.org", [], status=UNSUBSCRIBED)
    return {state: f"{state}@example.org" for state in STATES}


def _answers(client, addresses, body_extra=None, environ=None):
    answers = {}
    for state, address in addresses.items():
        response = client.post(
            "/api/v1/subscriptions",
            json={"email": address, "languages": ["en"], **(body_extra or {})},
            environ_base=environ or {},
        )
        answers[state] = (response.status_code, response.get_data())
    return answers


def _stored_consents():
    db.session.expire_all()
    return list(db.session.scalars(select(Consent).order_by(Consent.id)))


@pytest.mark.parametrize("bad", [NUL, SURROGATE, "\x1b", "\u202e"], ids=["nul", "surrogate", "escape", "bidi"])
@pytest.mark.parametrize("where", ["HTTP_USER_AGENT", "HTTP_REFERER"])
def test_bad_characters_in_headers_get_the_same_202_for_every_state(client, addresses, where, bad):
    answers = _answers(client, addresses, environ={where: f"before{bad}after"})
    assert {status for status, _body in answers.values()} == {202}
    assert len({body for _status, body in answers.values()}) == 1
    consents = _stored_consents()
    assert len(consents) == 3
    column = "user_agent" if where == "HTTP_USER_AGENT" else "source_page"
    assert {getattr(consent, column) for consent in consents} == {"beforeafter"}


def test_a_nul_in_page_gets_the_same_202_for_every_state(client, addresses):
    answers = _answers(client, addresses, {"page": f"https://site.example/{NUL}join"})
    assert {status for status, _body in answers.values()} == {202}
    assert len({body for _status, body in answers.values()}) == 1
    assert {consent.source_page for consent in _stored_consents()} == {"https://site.example/join"}


def test_a_lone_surrogate_in_page_gets_the_same_422_for_every_state(client, addresses):
    """A surrogate cannot come from a real client's UTF-8 JSON; like any JSON field, it is refused, alike for all."""
    answers = _answers(client, addresses, {"page": f"https://site.example/{SURROGATE}"})
    assert {status for status, _body in answers.values()} == {422}
    assert len({body for _status, body in answers.values()}) == 1
    assert _stored_consents() == []


def test_long_fields_are_cut_to_the_documented_length(client, addresses):
    client.post(
        "/api/v1/subscriptions",
        json={"email": addresses["new"], "languages": ["en"], "page": "https://site.example/" + "p" * 30_000},
        environ_base={"HTTP_USER_AGENT": "A" * 30_000},
    )
    [consent] = _stored_consents()
    assert len(consent.user_agent) == MAX_USER_AGENT_LENGTH and len(consent.source_page) == MAX_PAGE_LENGTH


def test_the_form_cleans_its_page_field_too(client, addresses):
    token = CSRF_FIELD.search(client.get("/subscribe").get_data(as_text=True)).group(1)
    pages = set()
    for state in STATES:
        response = client.post(
            "/subscribe",
            data={
                "email": addresses[state],
                "languages": ["en"],
                "csrf_token": token,
                "page": f"https://s.example/{NUL}x",
            },
            environ_base={"HTTP_USER_AGENT": f"agent{NUL}"},
        )
        assert response.status_code in (200, 303)
        pages.add(response.status_code)
    assert len(pages) == 1
    assert {(consent.source_page, consent.user_agent) for consent in _stored_consents()} == {
        ("https://s.example/x", "agent")
    }
