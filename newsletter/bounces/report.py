"""One report as every intake hands it to the rules: what it says, and what may name its delivery."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from newsletter.core.characters import strip_forbidden
from newsletter.models.bounces import BounceKind

DIAGNOSTIC_LENGTH = 1000


@dataclass(frozen=True)
class Report:
    """What one report says: the kind and why, the status and diagnostic, and what may name the delivery."""

    kind: BounceKind
    key: str
    status: str | None = None
    diagnostic: str | None = None
    original_message_id: str | None = None
    addresses: tuple[str, ...] = field(default_factory=tuple)
    """Addresses that may be our VERP sender: the report's own recipients and the original's Return-Path."""
    has_original: bool = True
    recipient: str | None = None
    """The bounced address as a provider states it (Postmark): the last resort when nothing else names it."""
    reason: str | None = None
    """The reason-table entry (classify.REASONS) or feedback type that decided the kind."""

    def storable(self) -> Report:
        """The report with text every database can store: no NUL or other control characters, bounded."""

        def clean(value: str | None, limit: int) -> str | None:
            if value is None:
                return None
            return " ".join(strip_forbidden(str(value)).split())[:limit] or None

        return replace(
            self,
            status=clean(self.status, 16),
            diagnostic=clean(self.diagnostic, DIAGNOSTIC_LENGTH),
            original_message_id=clean(self.original_message_id, 998),
            addresses=tuple(filter(None, (clean(address, 320) for address in self.addresses))),
            recipient=clean(self.recipient, 320),
            reason=clean(self.reason, 32),
        )


def report_key(raw: bytes) -> str:
    """A digest of the report itself: the same message read twice is recorded once."""
    return hashlib.sha256(raw).hexdigest()
