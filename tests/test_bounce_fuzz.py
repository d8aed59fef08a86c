"""No bounce report, however broken, raises out of the reader or the intake: mutations of real reports
(truncation, nesting, bad encodings, huge headers, NULs, random bytes) in thousands of cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.bounces.parsing import parse
from newsletter.models.bounces import BounceKind

CORPUS = sorted((Path(__file__).parent / "fixtures" / "bounce_corpus" / "flufl").glob("*.txt"))
REAL = [path.read_bytes() for path in CORPUS]
FUZZ = settings(
    max_examples=3000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _truncate(raw: bytes, fraction: float) -> bytes:
    return raw[: int(len(raw) * fraction)]


def _nest(raw: bytes, depth: int) -> bytes:
    head = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (n, n) for n in range(depth))
    return b"Subject: nested\r\nMIME-Version: 1.0\r\n" + head + raw


def _bad_encoding(raw: bytes, junk: bytes) -> bytes:
    header = b"Content-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: base64\r\n"
    return header + raw[: len(raw) // 2] + junk + raw[len(raw) // 2 :]


def _huge_header(raw: bytes, size: int) -> bytes:
    return b"X-Huge: " + b"a" * size + b"\r\nReceived: " + b"b 2.0.13 " * (size // 10) + b"\r\n" + raw


def _splice(raw: bytes, position: float, junk: bytes) -> bytes:
    cut = int(len(raw) * position)
    return raw[:cut] + junk + raw[cut:]


MUTATED = st.one_of(
    st.builds(_truncate, st.sampled_from(REAL), st.floats(0, 1)),
    st.builds(_nest, st.sampled_from(REAL), st.integers(0, 300)),
    st.builds(_bad_encoding, st.sampled_from(REAL), st.binary(max_size=64)),
    st.builds(_huge_header, st.sampled_from(REAL), st.integers(0, 200_000)),
    st.builds(_splice, st.sampled_from(REAL), st.floats(0, 1), st.binary(max_size=256)),
    st.builds(_splice, st.sampled_from(REAL), st.floats(0, 1), st.sampled_from([b"\x00", b"\r", b"\xff\xfe", b"--"])),
    st.binary(max_size=2048),
)


@FUZZ
@given(MUTATED)
def test_the_reader_never_raises(raw):
    report = parse(raw)
    assert report.kind in set(BounceKind)
    stored = report.storable()
    assert "\x00" not in (stored.diagnostic or "") + (stored.status or "") + (stored.original_message_id or "")


@pytest.fixture
def intake_settings(app):
    from fixtures.bounces import bounce_settings

    return bounce_settings(app)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(MUTATED)
def test_the_intake_keeps_or_applies_every_report_and_never_raises(intake_settings, raw):
    from newsletter.bounces import mailboxes, rules

    outcome = mailboxes.take(raw, intake_settings, source="fuzz")
    assert outcome in set(rules.Outcome)
