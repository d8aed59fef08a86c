"""One parser for every report: DSNs, ARF complaints, flufl.bounce's other formats; unknown ones never raise."""

from __future__ import annotations

from fixtures.bounces import arf, dsn, qmail_bounce, unknown_format

from newsletter.bounces.parsing import parse
from newsletter.models import BounceKind

VERP = "bounces+7-0123456789@newsletter.test"


def test_a_5xx_dsn_is_a_hard_bounce_with_its_status_and_diagnostic():
    report = parse(dsn(VERP, "reader@example.net", "5.1.1", message_id="<m1@newsletter.test>"))
    assert report.kind == BounceKind.HARD
    assert report.status == "5.1.1"
    assert "mailbox problem" in report.diagnostic
    assert report.original_message_id == "<m1@newsletter.test>"
    assert VERP in report.addresses


def test_a_4xx_dsn_and_a_full_mailbox_are_soft_bounces():
    assert parse(dsn(VERP, "reader@example.net", "4.2.2")).kind == BounceKind.SOFT
    assert parse(dsn(VERP, "reader@example.net", "5.2.2")).kind == BounceKind.SOFT


def test_an_arf_abuse_report_is_a_complaint():
    report = parse(arf("fbl@newsletter.test", "reader@example.net", message_id="<m2@newsletter.test>"))
    assert report.kind == BounceKind.COMPLAINT
    assert report.original_message_id == "<m2@newsletter.test>"
    assert report.has_original


def test_an_arf_report_without_the_original_message_is_still_a_complaint_but_names_no_message():
    report = parse(arf("fbl@newsletter.test", "reader@example.net", with_original=False))
    assert report.kind == BounceKind.COMPLAINT
    assert not report.has_original
    assert report.original_message_id is None


def test_a_non_standard_failure_notice_is_read_by_flufl_bounce():
    report = parse(qmail_bounce(VERP, "reader@example.net"))
    assert report.kind == BounceKind.HARD
    assert report.status == "5.1.1"


def test_an_unknown_format_or_garbage_is_unrecognised_not_an_error():
    assert parse(unknown_format(VERP)).kind == BounceKind.UNRECOGNISED
    assert parse(b"\x00\xff\xfe garbage \r\n\r\n").kind == BounceKind.UNRECOGNISED
    assert parse(b"").kind == BounceKind.UNRECOGNISED


def test_the_same_code_is_read_by_its_words():
    def read(status: str, diagnostic: str):
        report = parse(dsn(VERP, "reader@example.net", status, diagnostic=f"smtp; {diagnostic}"))
        return report.kind, report.reason

    assert read("5.1.1", "550 5.1.1 user unknown") == (BounceKind.HARD, "no_such_address")
    assert read("5.1.1", "550 5.1.1 mailbox temporarily disabled") == (BounceKind.SOFT, "temporarily_unavailable")
    assert read("5.1.1", "550 5.1.1 rejected by policy") == (BounceKind.ABOUT_US, "policy")
    assert read("5.7.1", "554 5.7.1 Relay access denied") == (BounceKind.ABOUT_US, "relaying_denied")
    assert read("5.0.0", "550 mailbox is full") == (BounceKind.SOFT, "mailbox_full")
    assert read("5.4.7", "expired after 5 days at a relay") == (BounceKind.SOFT, "expired")


def test_only_a_failed_action_counts():
    for action in ("delayed", "delivered", "relayed", "expanded"):
        report = parse(dsn(VERP, "reader@example.net", "4.4.7", action=action))
        assert report.kind == BounceKind.IGNORED, action
