"""DKIM: every signature is checked by dkimpy's verifier, for RSA and Ed25519, whole messages and digests."""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import date, timedelta

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from dkim.canonicalization import Relaxed
from fixtures.delivery import add_edition, add_subscribers, parse, queue_prebuilt_mail, statuses
from fixtures.settings import current_settings

from newsletter.core.extensions import db
from newsletter.core.settings import settings_of
from newsletter.core.tokens import LinkSigner
from newsletter.delivery import canonical, digest, ledger, signing, worker
from newsletter.editions import control

SELECTOR, DOMAIN = "mail", "newsletter.test"
PEM, RAW = serialization.Encoding.PEM, serialization.Encoding.Raw


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture(scope="module")
def ed25519_key():
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    pem = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public)


@pytest.fixture(params=["rsa", "ed25519"])
def key(request, rsa_key, ed25519_key):
    """(private key PEM, DNS TXT record) of each algorithm."""
    return rsa_key if request.param == "rsa" else ed25519_key


def verifies(message: bytes, record: bytes) -> bool:
    def dns(name, timeout=5):
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return record

    return dkim.verify(message, dnsfunc=dns)


def signed_names(message: bytes) -> list[str]:
    field = parse(message)["DKIM-Signature"]
    tags = dict(tag.strip().split("=", 1) for tag in "".join(field.split()).split(";") if tag)
    return tags["h"].lower().split(":")


HEAD = (
    "From: Belarus Weekly <newsletter@newsletter.test>\r\nTo: reader@example.net\r\n"
    "Subject: =?utf-8?q?=D0=9F=D1=80=D1=8B=D0=B2=D1=96=D1=82=D0=B0=D0=BD=D0=BD=D0=B5?=\r\n"
    "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <1@newsletter.test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
)
BODIES = {
    "trailing whitespace": "line with blanks  \t\r\n\tindented\t and  spaced \r\n \r\nend \r\n",
    "empty lines at the end": "text\r\n\r\n\r\n\r\n",
    "long lines": ("x" * 990 + "\r\n") * 3 + "word " * 400 + "\r\n",
    "non-ASCII": "Прывітанне, свет: ў, Ж, €, ё.\r\nПривет  мир\t\r\n",
    "empty": "",
    "no final line break": "last line without CRLF  ",
    "bare line feeds": "unix\nline ends \n\nhere\n",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_whole_messages_verify(key, body):
    pem, record = key
    message = signing.DkimSigner(SELECTOR, DOMAIN, pem).sign((HEAD + body).encode("utf-8"))
    assert verifies(message, record)


@pytest.mark.parametrize("body", ["old mac\rline ends\r", "mixed\r\nends\rand\nmore\r\n"])
def test_a_message_with_bare_carriage_returns_is_signed_and_sent_in_one_wire_form(key, body):
    """SMTP allows CR only before LF (RFC 5321, 2.3.8). A lone CR with no bare LF in the message used to be
    signed and sent as it was; it is now a line end, the same for the signer and the transport."""
    from newsletter.delivery.pipelining import _data_bytes

    pem, record = key
    message = signing.DkimSigner(SELECTOR, DOMAIN, pem).sign((HEAD + body).encode("utf-8"))
    assert b"\r" not in message.replace(b"\r\n", b"")
    assert _data_bytes(message) == message + b".\r\n"  # the transport sends it as signed
    assert verifies(message, record)


def test_from_and_subject_are_oversigned_so_an_added_one_breaks_the_signature(key):
    pem, record = key
    message = signing.DkimSigner(SELECTOR, DOMAIN, pem).sign((HEAD + "Hello\r\n").encode("utf-8"))
    names = signed_names(message)
    assert names.count("from") == 2 and names.count("subject") == 2 and names.count("to") == 1
    assert {"date", "message-id", "mime-version", "content-type"} <= set(names)
    assert verifies(message, record)
    signature, rest = message.split(b"\r\nFrom:", 1)
    for added in (b"Subject: Urgent: your account\r\n", b"From: someone@else.example\r\n"):
        assert not verifies(signature + b"\r\n" + added + b"From:" + rest, record)


def test_a_changed_body_or_signed_header_fails(key):
    pem, record = key
    message = signing.DkimSigner(SELECTOR, DOMAIN, pem).sign((HEAD + "Hello\r\n").encode("utf-8"))
    assert not verifies(message.replace(b"Hello", b"Hallo"), record)
    assert not verifies(message.replace(b"<1@newsletter.test>", b"<2@newsletter.test>"), record)
    assert verifies(message.replace(b"Hello\r\n", b"Hello   \r\n\r\n"), record)  # relaxed: blanks, end lines


def test_the_signature_field_lines_stay_within_78():
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    message = signing.DkimSigner(SELECTOR, DOMAIN, pem).sign(HEAD.encode() + b"x\r\n")
    field = message.split(b"\r\nFrom:", 1)[0]
    assert max(len(line) for line in field.split(b"\r\n")) <= 78


def test_dkimpy_s_ed25519_seed_file_signs(ed25519_key):
    _pem, record = ed25519_key
    seed = serialization.load_pem_private_key(_pem, None).private_bytes(
        RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    signer = signing.DkimSigner(SELECTOR, DOMAIN, base64.b64encode(seed) + b"\n")
    assert signer.algorithm == b"ed25519-sha256"
    assert verifies(signer.sign(HEAD.encode() + b"x\r\n"), record)


def _random_text(chance: random.Random, length: int) -> str:
    alphabet = ["a", "b", " ", "\t", "=", ".", "ў", "Ж", "€", "\n", "  ", "\t\n", " \n", "\n\n", "x" * 90]
    return "".join(chance.choice(alphabet) for _ in range(length))


def test_a_prepared_body_hashes_as_the_whole_body(app):
    """Canonicalised once per template, then per recipient: the same hash as canonicalising each body whole."""
    chance = random.Random(8463)
    for _round in range(40):
        parts = [_random_text(chance, chance.randint(0, 120)) for _ in range(3)]
        text = parts[0] + " __UNSUBSCRIBE_URL__\t" + parts[1] + "__PREFERENCES_URL__  " + parts[2]
        html = (
            parts[2]
            + '<a href="__PREFERENCES_URL__">p</a> '
            + parts[0]
            + "__UNSUBSCRIBE_URL__"
            + chance.choice(["", " ", "\n\n\n", "\t\n"])
        )
        edition = add_edition("en", week=date(2022, 1, 10) + timedelta(weeks=_round), text=text, html=html)
        template = digest.DigestTemplate(edition, current_settings())
        shared = canonical.SharedBody([part if isinstance(part, bytes) else None for part in template.body])
        for subscriber_id in (1, 2):
            links = LinkSigner(current_settings()).links(subscriber_id, f"reader{subscriber_id}@example.net")
            message = template.render(f"reader{subscriber_id}@example.net", links, template.message_id(subscriber_id))
            body = message.split(b"\r\n\r\n", 1)[1]
            slots = [slot for slot in template.body if isinstance(slot, tuple)]
            encoded = digest._link_pieces(
                {digest.UNSUBSCRIBE: links.unsubscribe, digest.PREFERENCES: links.preferences}, slots
            )
            pieces = [encoded[slot] for slot in slots]
            assert shared.digest(pieces) == hashlib.sha256(canonical.relaxed_body(body)).digest(), (text, html)


def test_a_shared_body_of_raw_lines_hashes_as_the_whole_body():
    """Blanks at chunk and piece edges, empty lines around slots: still the whole body's relaxed hash."""
    chance = random.Random(6376)
    lines = [b"", b" ", b"\t", b"a  b", b"a\t", b" a", b"\xd1\x9e \t", b"x" * 100]
    for _round in range(300):

        def some_lines(least: int) -> bytes:
            return b"".join(chance.choice(lines) + b"\r\n" for _ in range(chance.randint(least, 4)))

        layout = [
            some_lines(0),
            None,
            some_lines(0),
            None,
            some_lines(0) + b"end" + chance.choice(lines) + b"\r\n" + some_lines(0),
        ]
        pieces = [some_lines(0), some_lines(0)]
        body = layout[0] + pieces[0] + layout[2] + pieces[1] + layout[4]
        shared = canonical.SharedBody(layout)
        assert canonical.relaxed_body(body) == Relaxed.canonicalize_body(body)
        assert shared.digest(pieces) == hashlib.sha256(canonical.relaxed_body(body)).digest(), (layout, pieces)


def test_a_shared_body_refuses_a_piece_inside_a_line():
    with pytest.raises(ValueError, match="inside a line"):
        canonical.SharedBody([b"line\r\nhalf a line ", None, b"\r\nend\r\n"])
    shared = canonical.SharedBody([b"line\r\n", None, b"end\r\n"])
    with pytest.raises(ValueError, match="whole lines"):
        shared.digest([b"no line end"])


def test_a_digest_template_with_a_signer_signs_each_reader_s_message_once(app, key):
    pem, record = key
    signer = signing.DkimSigner(SELECTOR, DOMAIN, pem)
    edition = add_edition("ru")
    template = digest.DigestTemplate(edition, current_settings(), dkim=signer)
    messages = [
        digest.build_digest_message(template, n, f"reader{n}@example.net", LinkSigner(current_settings()))
        for n in (1, 2, 3)
    ]
    for message in messages:
        assert verifies(message, record)
        assert signer.sign(message) is message  # already signed: the pool's sign() leaves it alone
        assert message.count(b"DKIM-Signature:") == 1
    assert len({parse(message)["DKIM-Signature"] for message in messages}) == 3


def _configure(app, tmp_path, pem: bytes) -> None:
    key_file = tmp_path / "dkim.key"
    key_file.write_bytes(pem)
    app.config.update(DKIM_SELECTOR=SELECTOR, DKIM_DOMAIN=DOMAIN, DKIM_PRIVATE_KEY_PATH=str(key_file))


def test_digests_sent_by_the_worker_verify(fast_smtp_config, app, smtp_server, tmp_path, key):
    pem, record = key
    _configure(app, tmp_path, pem)
    add_subscribers(3, "ru")
    ledger.enqueue_edition(add_edition("ru", subject="Беларусь за неделю"))
    worker.run(once=True, poll_seconds=0.05)

    assert len(smtp_server.messages) == 3
    for received in smtp_server.messages:
        assert verifies(received.data, record)
        assert signed_names(received.data).count("from") == 2
        assert {"list-unsubscribe", "list-unsubscribe-post", "list-id"} <= set(signed_names(received.data))
        tampered = received.data.replace(b"List-Unsubscribe=One-Click", b"nothing")
        assert not verifies(tampered, record)


def test_transactional_mail_sent_by_the_worker_verifies(fast_smtp_config, app, smtp_server, tmp_path, key):
    pem, record = key
    _configure(app, tmp_path, pem)
    queue_prebuilt_mail("reader@example.org", subject="Пацвердзіце падпіску", text="Націсніце  тут \n\n")
    db.session.commit()
    worker.run(once=True, poll_seconds=0.05)

    [received] = smtp_server.messages
    assert verifies(received.data, record)
    assert parse(received.data)["Date"].endswith("+0000")


def test_an_editor_s_test_send_is_signed_like_every_other_message(fast_smtp_config, app, smtp_server, tmp_path, key):
    pem, record = key
    _configure(app, tmp_path, pem)
    edition = add_edition("ru", subject="Беларусь за неделю")
    control.send_test(edition, ["editor@example.net"], settings_of(app))

    [received] = smtp_server.messages
    assert verifies(received.data, record), "a receiver checking DKIM accepts the test copy"
    assert "[ТЕСТ]" in str(parse(received.data)["Subject"])
    assert received.data.count(b"DKIM-Signature:") == 1


def test_dates_are_in_plus_0000(app):
    message = parse(
        digest.build_digest_message(
            digest.DigestTemplate(add_edition("en"), current_settings()),
            1,
            "r@example.net",
            LinkSigner(current_settings()),
        )
    )
    raw_date = str(message["Date"])
    assert raw_date.endswith(" +0000") and "GMT" not in raw_date


def _encrypted_pem() -> bytes:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
    )


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "cannot read the DKIM key"),
        (b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", "cannot sign.*not a PEM or DER"),
        (b"\x00\x01 binary junk", "cannot sign.*not a PEM or DER"),
        (_encrypted_pem(), "cannot sign.*encrypted"),
        (_ec_pem(), "cannot sign.*RSA or Ed25519"),
    ],
    ids=["missing", "garbage", "binary", "encrypted", "ec"],
)
def test_a_dkim_key_that_cannot_sign_stops_the_worker_before_it_claims_anything(app, tmp_path, content, problem):
    key_file = tmp_path / "dkim.key"
    if content is not None:
        key_file.write_bytes(content)
    app.config.update(DKIM_SELECTOR=SELECTOR, DKIM_DOMAIN=DOMAIN, DKIM_PRIVATE_KEY_PATH=str(key_file))
    queue_prebuilt_mail("reader@example.org")
    db.session.commit()

    with pytest.raises(worker.WorkerSetupError, match=problem):
        worker.run(once=True, poll_seconds=0.05)
    assert statuses() == {"queued": 1}
