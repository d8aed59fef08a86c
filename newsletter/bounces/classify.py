"""Classifying a failure by what it means, not by the first digit of its code.

A failure is about the address (hard: suppress at once), about the mailbox for now (soft: counted per
edition), or about us, the sender (never the reader's fault: counted per edition and receiving domain,
and a burst pauses the edition). The diagnostic text decides first, because the same code means different
things at different providers (5.1.1 is "no such user" at most, "disabled for now" or "policy" at some);
the status code decides when the text says nothing we know. The table is documented in the README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsletter.bounces.reasons import KIND_OF_MEANING, REASONS, STATUS_MEANINGS, Meaning, Reason
from newsletter.models.bounces import BounceKind

__all__ = ["KIND_OF_MEANING", "Meaning", "Reason", "Verdict", "by_text", "classify", "decide"]


@dataclass(frozen=True)
class Verdict:
    kind: BounceKind
    reason: str


UNKNOWN = "unknown_permanent"
SERVER_REPLY = re.compile(r"\b[45]\d\d\b|\b[45]\.\d{1,3}\.\d{1,3}\b")
UNSTATED = "unstated_permanent"


def decide(status: str | None, diagnostic: str | None, texts: tuple[str, ...] = ()) -> Verdict:
    """A failed recipient's meaning: its diagnostic's words, else a specific status code, else the words of
    the report's own text (`texts`, most specific first). A failure explained in words we do not know is
    soft (it may be a block worded oddly); a permanent failure that gives no explanation at all is hard."""
    if diagnostic and by_text(diagnostic) is not None:
        return classify(status, diagnostic)
    by_status = classify(status, None)
    if status and by_status.reason != UNKNOWN:
        return by_status
    for text in texts:
        if text and by_text(text) is not None:
            return classify(status, text)
    if (diagnostic and SERVER_REPLY.search(diagnostic)) or (status and not status.endswith(".0.0")):
        return Verdict(BounceKind.SOFT, UNKNOWN)
    return Verdict(BounceKind.HARD, UNSTATED)


def by_text(text: str) -> Reason | None:
    for reason in REASONS:
        if reason.pattern.search(text):
            return reason
    return None


def classify(status: str | None, diagnostic: str | None, *, permanent: bool = True) -> Verdict:
    """What one failed recipient's status and diagnostic mean (the report said it failed)."""
    reason = by_text(diagnostic) if diagnostic else None
    if reason is not None:
        meaning = reason.meaning
        if meaning is Meaning.ADDRESS and status and status.startswith("4"):
            meaning = Meaning.MAILBOX  # the receiving server itself says it may pass later
        return Verdict(KIND_OF_MEANING[meaning], reason.name)
    if status:
        for prefix, meaning, name in STATUS_MEANINGS:
            if status.startswith(prefix):
                return Verdict(KIND_OF_MEANING[meaning], name)
    return Verdict(BounceKind.SOFT, "unknown_permanent" if permanent else "temporarily_unavailable")
