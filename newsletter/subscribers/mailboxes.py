"""The confirmation resend window, counted per mailbox rather than per spelling of an address.

A request email (confirmation, "already subscribed" notice, unsubscribe link) goes to a mailbox at most once
per `NEWSLETTER_CONFIRM_RESEND_SECONDS`, whichever of its spellings was typed: the window is kept in
`mailbox_mail` under a keyed hash of the mailbox key (`newsletter.core.addresses.mailbox_key`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from newsletter.core.addresses import mailbox_digest
from newsletter.core.database import affected_rows
from newsletter.core.extensions import db
from newsletter.models import MailboxMail, utcnow


def lock(address: str, secret: str) -> MailboxMail | None:
    """The mailbox's window row, locked until the transaction ends (None when nothing was mailed yet)."""
    return db.session.get(MailboxMail, mailbox_digest(address, secret), with_for_update=True, populate_existing=True)


def mailed_within(row: MailboxMail | None, window: timedelta) -> bool:
    return row is not None and utcnow() - row.last_mail_at < window


def mark_mailed(row: MailboxMail | None, address: str, secret: str) -> None:
    """Start the window now; a new row that a concurrent request inserted first fails the commit (retried)."""
    if row is None:
        db.session.add(MailboxMail(mailbox_digest=mailbox_digest(address, secret), last_mail_at=utcnow()))
    else:
        row.last_mail_at = utcnow()


def forget_before(cutoff: datetime) -> int:
    """Drop windows that closed before `cutoff`: they no longer count anything."""
    statement = delete(MailboxMail).where(MailboxMail.last_mail_at < cutoff)
    return affected_rows(db.session.execute(statement.execution_options(synchronize_session=False)))
