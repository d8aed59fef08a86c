"""When a mailbox last got a request email (a confirmation or notice), keyed by a keyed hash of its mailbox key.

`victim+1@gmail.com`, `v.ictim@googlemail.com` and `VICTIM@gmail.com` are three subscribers but one mailbox:
the confirmation resend window is counted here, per mailbox, so spelling an address differently does not
open a new window. The row holds no address, only an HMAC of the mailbox key and a time, and is purged with
stale requests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class MailboxMail(Model):
    __tablename__ = "mailbox_mail"

    mailbox_digest: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_mail_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
