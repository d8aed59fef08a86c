"""Sent digests parse back with the standard library: parts, encodings, headers, personal links, DKIM."""

from __future__ import annotations

import quopri
import random
import time
from urllib.parse import urlsplit

import pytest
from fixtures.delivery import (
    DIGEST_HTML,
    DIGEST_TEXT,
    add_edition,
    add_subscribers,
    parse,
)
from fixtures.settings import current_settings, secret

from newsletter.core.extensions import db
from newsletter.core.tokens import (
    PREFERENCES,
    UNSUBSCRIBE,
    LinkSigner,
    SubscriberLinks,
    address_fingerprint,
    make_token,
    read_token,
)
from newsletter.delivery import compose, digest, ledger, worker
from newsletter.models import Subscriber

RU_SUBJECT = "Беларусь за неделю: 10–16 января 2022 г."


def _expected(body: str, links) -> str:
    return body.replace(digest.UNSUBSCRIBE, links.unsubscribe).replace(digest.PREFERENCES, links.preferences)


def _send_ru(smtp_server, count: int = 2):
    add_subscribers(count, "ru")
    edition = add_edition("ru", subject=RU_SUBJECT)
    ledger.enqueue_edition(edition)
    worker.run(once=True, poll_seconds=0.05)
    return edition, sorted(smtp_server.messages, key=lambda message: message.recipients[0])


def test_sent_digest_is_valid_multipart_alternative_with_every_header(fast_smtp_config, app, smtp_server):
    edition, messages = _send_ru(smtp_server)
    message = messages[0].parsed()
    subscriber = db.session.scalars(db.select(Subscriber).where(Subscriber.email == messages[0].recipients[0])).one()

    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert text_part.get_content_type() == "text/plain" and html_part.get_content_type() == "text/html"
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_part.get_content_charset() == "utf-8"
    assert message["Subject"] == RU_SUBJECT
    assert b"=?utf-8?" in messages[0].data.split(b"\r\n\r\n", 1)[0]
    assert message["To"] == subscriber.email
    assert message["From"] == "Belarus Weekly <newsletter@newsletter.test>"
    assert message["Date"] is not None
    assert message["Precedence"] == "bulk"
    assert message["List-Id"] == "Belarus Weekly (ru) <ru.newsletter.test>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip().strip("<>") for part in message["List-Unsubscribe"].split(","))
    assert https.startswith("http://newsletter.test/unsubscribe/") and mailto.startswith("mailto:unsubscribe@")
    assert message["Message-ID"] == f"<edition.{edition.id}.{subscriber.id}." + message["Message-ID"].split(".", 3)[3]
    assert message["Message-ID"].endswith("@newsletter.test>")
    content = text_part.get_content().replace("\r\n", "\n")
    preferences = content.split("Preferences: ")[1].split("\n")[0]
    assert preferences.startswith("http://newsletter.test/preferences/")
    assert content == DIGEST_TEXT.replace(digest.UNSUBSCRIBE, https).replace(digest.PREFERENCES, preferences)
    assert all(len(line) <= 998 for line in messages[0].data.split(b"\r\n"))


def test_personal_links_are_genuine_tokens_for_that_subscriber(fast_smtp_config, app, smtp_server):
    _edition, messages = _send_ru(smtp_server, count=2)
    for received in messages:
        message = received.parsed()
        subscriber = db.session.scalars(db.select(Subscriber).where(Subscriber.email == received.recipients[0])).one()
        html = message.get_body(("html",)).get_content()
        unsubscribe = html.split('href="http://newsletter.test/unsubscribe/')[1].split('"')[0]
        preferences = html.split('href="http://newsletter.test/preferences/')[1].split('"')[0]
        expected = [subscriber.id, address_fingerprint(secret(), subscriber.email)]
        assert read_token(secret(), UNSUBSCRIBE, unsubscribe) == expected
        assert read_token(secret(), PREFERENCES, preferences) == expected
        assert DIGEST_HTML.split("<h1>")[0] in html and "&amp;y=2" in html


def test_one_click_unsubscribe_from_the_header_works(fast_smtp_config, app, smtp_server, client):
    _edition, messages = _send_ru(smtp_server, count=1)
    https = messages[0].parsed()["List-Unsubscribe"].split(",")[0].strip().strip("<>")

    response = client.post(
        urlsplit(https).path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert db.session.scalars(db.select(Subscriber)).one().status == "unsubscribed"


def test_feedback_id_is_added_when_configured(app):
    app.config["FEEDBACK_ID"] = "belarus-weekly"
    edition = add_edition("en")
    message = parse(
        digest.build_digest_message(
            digest.DigestTemplate(edition, current_settings()), 5, "reader@example.net", LinkSigner(current_settings())
        )
    )
    assert message["Feedback-ID"] == f"{edition.id}:en:digest:belarus-weekly"


def test_the_same_subscriber_always_gets_the_same_message_id(app):
    edition = add_edition("en")
    template = digest.DigestTemplate(edition, current_settings())
    assert (
        template.message_id(7)
        == digest.DigestTemplate(edition, current_settings()).message_id(7)
        != template.message_id(8)
    )


@pytest.mark.parametrize(
    "body",
    [
        "__UNSUBSCRIBE_URL__ at the very start",
        "ends with a link: __PREFERENCES_URL__",
        "twice __UNSUBSCRIBE_URL____UNSUBSCRIBE_URL__ back to back and __PREFERENCES_URL__ = end ",
        ("Доўгі радок па-беларуску без пераносаў " * 6) + "__UNSUBSCRIBE_URL__" + (" хвост " * 20),
        "trailing spaces before a link   __PREFERENCES_URL__\n. a line starting with a dot\n",
        "x" * 75 + "__UNSUBSCRIBE_URL__" + "y" * 150,
    ],
)
def test_spliced_quoted_printable_decodes_to_exactly_the_text(app, body):
    edition = add_edition("be", text=body, html=f"<p>{body}</p>")
    template = digest.DigestTemplate(edition, current_settings())
    links = SubscriberLinks(
        "https://n.test/unsubscribe/abc=def",
        "https://n.test/preferences/" + "p" * 120,
        "mailto:unsubscribe@n.test?subject=x",
    )

    raw = template.render("someone@example.net", links, "<id@n.test>")

    text_part, html_part = parse(raw).iter_parts()
    assert text_part.get_content().replace("\r\n", "\n") == _expected(
        body, links
    ) + "\n" or text_part.get_content().replace("\r\n", "\n") == _expected(body, links)
    assert html_part.get_content().replace("\r\n", "\n").rstrip("\n") == f"<p>{_expected(body, links)}</p>".rstrip("\n")
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body_lines) <= 76


def test_splicing_costs_a_fraction_of_building_a_message(app):
    text, html = DIGEST_TEXT * 40, DIGEST_HTML * 40
    template = digest.DigestTemplate(add_edition("ru", text=text, html=html), current_settings())
    signer = LinkSigner(current_settings())
    started = time.perf_counter()
    for subscriber_id in range(200):
        digest.build_digest_message(template, subscriber_id, f"reader{subscriber_id}@example.net", signer)
    spliced = time.perf_counter() - started
    started = time.perf_counter()
    for subscriber_id in range(20):
        compose.build_message(
            mail_from=current_settings().mail.mail_from,
            to=f"reader{subscriber_id}@example.net",
            subject="Weekly",
            text=text,
            html=html,
        )
    built = (time.perf_counter() - started) * 10
    assert spliced < built / 3, (spliced, built)


def test_quoted_printable_lines_stay_within_76_and_decode_exactly(app):
    chance = random.Random(2045)
    alphabet = ["a", "b", " ", "\t", "=", ".", "ў", "Ж", "€", "\n", "  ", "\t\n", " \n"]
    template_links = SubscriberLinks("https://n.test/u/abc=def", "https://n.test/p/" + "p" * 90, "mailto:u@n.test")
    for _round in range(60):
        pieces = ["".join(chance.choice(alphabet) for _ in range(chance.randint(0, 160))) for _ in range(3)]
        ending = chance.choice(["", " ", "\t"])
        body = pieces[0] + " \t__UNSUBSCRIBE_URL__" + pieces[1] + "\t __PREFERENCES_URL__ " + pieces[2] + ending
        values = {digest.UNSUBSCRIBE: template_links.unsubscribe, digest.PREFERENCES: template_links.preferences}
        slots = [(segment, False) for segment in digest._segments(body) if isinstance(segment, str)]
        pieces = digest._link_pieces(values, slots)
        encoded = b"".join(
            segment if isinstance(segment, bytes) else pieces[segment, False] for segment in digest._segments(body)
        )
        assert max(len(line) for line in encoded.split(b"\r\n")) <= 76, body
        expected = body.replace(digest.UNSUBSCRIBE, template_links.unsubscribe)
        expected = expected.replace(digest.PREFERENCES, template_links.preferences)
        assert quopri.decodestring(encoded).decode("utf-8").replace("\r\n", "\n") == expected, body


def test_the_reused_link_signer_makes_the_tokens_module_s_tokens(app, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_764_806_400.5)  # itsdangerous's clock and the signer's
    links = LinkSigner(current_settings()).links(42, "reader@example.net")
    payload = [42, address_fingerprint(secret(), "reader@example.net")]
    unsubscribe_token = links.unsubscribe.rsplit("/", 1)[1]
    assert links.unsubscribe == f"http://newsletter.test/unsubscribe/{unsubscribe_token}"
    assert unsubscribe_token == make_token(secret(), UNSUBSCRIBE, payload)
    assert links.preferences.rsplit("/", 1)[1] == make_token(secret(), PREFERENCES, payload)
    monkeypatch.undo()
    assert read_token(secret(), UNSUBSCRIBE, unsubscribe_token) == payload
    assert read_token(secret(), PREFERENCES, links.preferences.rsplit("/", 1)[1]) == payload
    assert links.unsubscribe_mailto == f"mailto:unsubscribe@newsletter.test?subject=unsubscribe%20{unsubscribe_token}"


def test_the_link_signer_falls_back_to_itsdangerous_should_it_sign_otherwise(app, monkeypatch):
    """The signer makes itsdangerous's tokens itself for speed; were the serializer set to sign another way,
    it must not make tokens that the site then refuses."""
    from itsdangerous import URLSafeTimedSerializer
    from itsdangerous.signer import NoneAlgorithm

    from newsletter.core import tokens

    monkeypatch.setattr(
        tokens,
        "_serializer",
        lambda secret, purpose: URLSafeTimedSerializer(
            secret, salt=tokens.SALTS[purpose], signer_kwargs={"algorithm": NoneAlgorithm()}
        ),
    )
    monkeypatch.setattr(time, "time", lambda: 1_764_806_400.5)
    links = LinkSigner(current_settings()).links(42, "reader@example.net")
    payload = [42, address_fingerprint(secret(), "reader@example.net")]
    assert links.unsubscribe.rsplit("/", 1)[1] == make_token(secret(), UNSUBSCRIBE, payload)


def test_test_send_is_marked_and_carries_no_personal_links(app):
    edition = add_edition("ru", subject=RU_SUBJECT)
    message = parse(digest.build_test_message(edition, "editor@example.net", current_settings()))
    assert message["Subject"] == f"[ТЕСТ] {RU_SUBJECT}"
    assert "/unsubscribe/" not in message.get_body(("html",)).get_content()
    assert "/unsubscribe/" not in message["List-Unsubscribe"]


@pytest.mark.parametrize("dotted", [False, True], ids=["plain", "lines-starting-with-dots"])
def test_dots_at_line_starts_arrive_intact_whether_or_not_the_message_needed_stuffing(
    fast_smtp_config, app, smtp_server, dotted
):
    """A digest built in SMTP's wire form goes after DATA as it is; one with a line that starts with a dot
    (which only the transport may stuff) is not marked so, and arrives intact too."""
    text = DIGEST_TEXT + ("\n.\n. a line starting with a dot\n..\n" if dotted else "")
    add_subscribers(1, "en")
    edition = add_edition("en", text=text)
    links = SubscriberLinks("https://n.test/u", "https://n.test/p", "mailto:u@n.test")
    assert (
        getattr(
            digest.DigestTemplate(edition, current_settings()).render("a@example.net", links, "<id@n.test>"),
            "transparent",
            False,
        )
        is not dotted
    )
    ledger.enqueue_edition(edition)

    worker.run(once=True, poll_seconds=0.05)

    [message] = smtp_server.messages
    parsed = message.parsed()
    text_part, _html_part = parsed.iter_parts()
    content = text_part.get_content().replace("\r\n", "\n")
    https = parsed["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    preferences = content.split("Preferences: ")[1].split("\n")[0]
    assert content == text.replace(digest.UNSUBSCRIBE, https).replace(digest.PREFERENCES, preferences)


def test_every_reader_s_message_goes_out_as_built_and_carries_the_reader_s_own_links(app):
    """Tokens are long and dotted: a quoted-printable soft break could put a dot first on a line, and two in
    three messages then had to be scanned and dot-stuffed by the transport. None does now."""
    app.config["BASE_URL"] = "https://belarus.example.org"  # where the breaks fell before a dot, measured
    edition = add_edition("en")
    template = digest.DigestTemplate(edition, current_settings())
    signer = LinkSigner(current_settings())
    for subscriber_id in [*range(1, 60), *range(9_990, 10_060), *range(99_990, 100_030), 1_234_567]:
        email = f"reader{subscriber_id}@example.net"
        links = signer.links(subscriber_id, email)
        raw = digest.build_digest_message(template, subscriber_id, email, signer)

        assert getattr(raw, "transparent", False), subscriber_id
        assert compose.is_transparent(raw)
        text_part, _html_part = parse(raw).iter_parts()
        assert text_part.get_content().replace("\r\n", "\n") == _expected(DIGEST_TEXT, links)
        assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76


@pytest.mark.parametrize("padding", range(45, 60))
@pytest.mark.parametrize("ending", ["", ".", "=ab.", "ў."])
def test_a_link_piece_never_starts_a_line_with_a_dot_and_decodes_to_the_url(padding, ending):
    """Some of these put a dot (or an escape) right at a soft break of binascii's encoding, or (a last line
    of 76 split for the piece's closing soft break) a final dot on a line of its own."""
    url = "https://n.example.org/p/" + "x" * padding + ".=." + "y" * 70 + ".z=" + "w" * 60 + ending
    piece = digest._link_pieces({digest.UNSUBSCRIBE: url}, [(digest.UNSUBSCRIBE, False)])[digest.UNSUBSCRIBE, False]
    assert compose.is_transparent(piece) and piece.endswith(b"=\r\n")
    assert all(len(line) <= 76 for line in piece.split(b"\r\n"))
    assert quopri.decodestring(piece.replace(b"\r\n", b"\n")).decode() == url
