"""A broken or expired unsubscribe link offers "unsubscribe by address": one email, the same answer for all."""

from __future__ import annotations

import re

import pytest
from fixtures.subscribers import CSRF_FIELD, queued_messages, text_part
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.models import Subscriber
from newsletter.models.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED

UNSUBSCRIBE_LINK = re.compile(r"https?://[^\s<>\"]+/unsubscribe/[^\s<>\"]+")


@pytest.fixture(autouse=True)
def no_rate_limits(app_config):
    app_config["RATE_LIMITS"] = "off"


def _ask(client, address: str, lang: str = "en"):
    page = client.get(f"/unsubscribe-by-address?lang={lang}").get_data(as_text=True)
    token = CSRF_FIELD.search(page).group(1)
    return client.post(f"/unsubscribe-by-address?lang={lang}", data={"csrf_token": token, "email": address})


@pytest.mark.parametrize("path", ["/unsubscribe/not-a-token", "/preferences/broken.link"])
def test_a_broken_link_offers_unsubscribing_by_address(client, path):
    page = client.get(path).get_data(as_text=True)
    assert 'href="/unsubscribe-by-address?lang=en"' in page and "Unsubscribe by address" in page


def test_a_subscribed_address_gets_its_one_click_link(client, add_subscriber):
    add_subscriber("reader@example.org", ["en"], locale="ru")
    response = _ask(client, "Reader@Example.org")
    assert response.status_code == 303 and response.headers["Location"] == "/unsubscribe-by-address/sent?lang=en"
    [message] = queued_messages()
    link = UNSUBSCRIBE_LINK.search(text_part(message)).group(0).replace("http://newsletter.test", "")
    assert "Отписаться одним нажатием" in text_part(message)
    assert client.post(link).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber.status)) == UNSUBSCRIBED


def test_the_answer_is_the_same_whatever_the_state_and_only_subscribers_get_mail(client, add_subscriber):
    add_subscriber("confirmed@example.org", ["en"])
    add_subscriber("pending@example.org", ["en"], status=PENDING)
    add_subscriber("left@example.org", [], status=UNSUBSCRIBED)
    answers = set()
    for address in ("confirmed@example.org", "pending@example.org", "left@example.org", "nobody@example.org"):
        response = _ask(client, address)
        answers.add((response.status_code, response.headers["Location"]))
    assert len(answers) == 1
    recipients = sorted(re.search(rb"^To: (.+?)\r$", message, re.M).group(1) for message in queued_messages())
    assert recipients == [b"confirmed@example.org", b"pending@example.org"]
    assert {row.status for row in db.session.scalars(select(Subscriber))} == {CONFIRMED, PENDING, UNSUBSCRIBED}


def test_asking_again_within_the_window_sends_nothing_more(client, add_subscriber):
    add_subscriber("reader@example.org", ["en"])
    for _attempt in range(3):
        assert _ask(client, "reader@example.org").status_code == 303
    assert len(queued_messages()) == 1


def test_a_bad_address_is_explained_inline(client):
    response = _ask(client, "not an address", lang="be")
    assert response.status_code == 422 and 'id="email-error"' in response.get_data(as_text=True)


def test_the_sent_page_says_the_same_for_everyone(client):
    page = client.get("/unsubscribe-by-address/sent?lang=en").get_data(as_text=True)
    assert "If this address is subscribed, a link to unsubscribe it with one click is on its way." in page
