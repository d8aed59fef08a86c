"""What an SMTP reply means for a delivery: temporary or permanent, about this recipient or about us.

Kept apart from the transports because the sender pool (defer, slow down, fail, suppress) and the circuit
breaker decide on these answers, whichever transport produced them. A reply carries the stage it answered
(CONNECT, MAIL, RCPT or DATA): the same code means different things at different stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONNECT = "CONNECT"
MAIL = "MAIL"
RCPT = "RCPT"
DATA = "DATA"
ADDRESS_PATTERN = re.compile(r"<?[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;]+>?")
UNKNOWN_RECIPIENT_STATUSES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"})
SENDER_STATUSES = frozenset({"5.1.7", "5.1.8"})


@dataclass(frozen=True)
class SmtpReply:
    code: int
    text: str
    stage: str = DATA

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 enhanced status code at the start of the text, e.g. '5.1.1'."""
        first = self.text.split(" ", 1)[0]
        parts = first.split(".")
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            return first
        return None

    @property
    def temporary(self) -> bool:
        return not 500 <= self.code < 600

    @property
    def throttled(self) -> bool:
        """The relay asks us to slow down (421, or 454 to a mail transaction)."""
        return self.code == 421 or (self.code == 454 and self.stage in (MAIL, RCPT, DATA))

    @property
    def unknown_recipient(self) -> bool:
        """A permanent answer that the recipient's mailbox does not exist (or was disabled): suppress it.

        Only the x.1.x/x.2.1 codes that are about the recipient: x.1.7 and x.1.8 are about *our* address.
        """
        return self.code >= 500 and self.stage == RCPT and self.enhanced in UNKNOWN_RECIPIENT_STATUSES

    @property
    def about_recipient(self) -> bool:
        """A permanent refusal of this one recipient (as opposed to our sender, message, quota or policy)."""
        if self.temporary or self.stage not in (RCPT, DATA):
            return False
        enhanced = self.enhanced
        if enhanced is None:
            return self.stage == RCPT
        subject = enhanced.split(".", 2)[1]
        return (subject == "1" and enhanced not in SENDER_STATUSES) or subject == "2"

    @property
    def systemic(self) -> bool:
        """Permanent, but about the sending side (quota, policy, authentication, size, our address): mailing the
        rest of the list would fail the same way, so it opens the circuit breaker instead of failing everyone."""
        return not self.temporary and not self.about_recipient

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()

    def for_log(self) -> str:
        """The reply as a log line may show it: code, enhanced status and text, with any address masked."""
        return ADDRESS_PATTERN.sub("<address>", str(self))[:300]
