"""Moving an edition on: preview, test send, send, pause, resume, cancel, reopen, unpublish.

Every move goes through the lifecycle table (newsletter.models.lifecycle); the API, the CLI, the console and the
scheduler call these functions and nothing below them. Preview, test send and send first rebuild a draft
or scheduled edition that went stale, so what an editor checks is what readers get.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update

from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.delivery import digest, gate, ledger
from newsletter.delivery.compose import sender_address
from newsletter.delivery.gate import close_gate
from newsletter.delivery.signing import signer_from_settings
from newsletter.delivery.transport import open_transport
from newsletter.editions import archive
from newsletter.editions.building import rebuild_if_stale
from newsletter.editions.plan import in_week
from newsletter.models import Edition, utcnow
from newsletter.models.content import EditionStatus
from newsletter.models.lifecycle import Action, EditionConflict, allows, status_of, transition


class NothingToSend(EditionConflict):
    """The edition has no articles (they were deleted or all excluded), so it is not sent (HTTP 409)."""

    def __init__(self, edition: Edition):
        super().__init__(edition.id, edition.status, "send")
        self.args = (f"edition {edition.id} has no articles (they were deleted or excluded); it cannot be sent",)


def get_edition(edition_id: int) -> Edition | None:
    return db.session.get(Edition, edition_id)


def current(edition: Edition) -> Edition:
    """The edition as readers would get it now: rebuilt first if it is a stale draft or scheduled one."""
    return rebuild_if_stale(edition)


def preview_html(edition: Edition) -> str:
    return archive.public_html(current(edition))


def preview_text(edition: Edition) -> str:
    return archive.public_text(current(edition))


def send_edition(edition: Edition) -> int:
    """Rebuild if stale and enqueue one delivery per confirmed subscriber, in one transaction.

    Raises EditionConflict (its state does not allow a send; NothingToSend when it has no articles) or
    BuildFailed (its digest cannot be rendered).
    """
    week_has_articles = db.session.scalar(select(exists().where(in_week(edition.week_start, edition.language))))
    if not week_has_articles:
        db.session.rollback()
        raise NothingToSend(edition)
    ledger.lock_for_enqueue()  # before the rebuild writes the edition: see `partitions.lock_referenced_tables`
    rebuild_if_stale(edition, commit=False)
    if edition.article_count == 0:
        db.session.rollback()
        raise NothingToSend(edition)
    return ledger.enqueue_edition(edition)


def send_test(edition: Edition, recipients: list[str], settings: Settings) -> None:
    """Send a test copy straight through the transport: marked as a test, not in the ledger, not counted."""
    edition = current(edition)
    signer = signer_from_settings(settings.mail)  # checked at start-up; signed as the worker signs
    transport = open_transport(settings.mail)
    sender = sender_address(settings.mail.mail_from)
    try:
        for recipient in recipients:
            transport.send(sender, recipient, digest.build_test_message(edition, recipient, settings, signer))
    finally:
        transport.close()


def status_summary(status: str, failed: int) -> str:
    """The edition's state as readers of the API, CLI and console meet it: a sent edition some readers never
    got (refused, or given up after NEWSLETTER_RETRY_MAX_AGE_SECONDS) says how many."""
    if status == EditionStatus.SENT and failed:
        return f"sent with {failed} failed"
    return str(status)


def pause_edition(edition: Edition | int, reason: str | None = None) -> str:
    """Stop the send; returns the new status. `reason` says why (the circuit breaker gives the relay's reply).

    The send gate is closed first: this waits for messages in flight, and once it returns no worker starts
    another message of the edition."""
    return gate.pause(edition, reason)


def resume_edition(edition: Edition | int) -> str:
    """Continue a paused send exactly where it stopped; time spent paused does not age its retries."""
    edition_id = _edition_id(edition)
    paused_at = db.session.scalar(select(Edition.paused_at).where(Edition.id == edition_id))
    already = status_of(edition_id)
    status = transition(edition, Action.RESUME, commit=False)
    if already != status:
        if paused_at is not None:
            ledger.extend_deferrals(edition_id, utcnow() - paused_at)
        db.session.commit()
    return status


def cancel_edition(edition: Edition | int) -> str:
    """Cancel before or during the send (after the messages in flight, as for a pause): queued deliveries are
    cancelled in the same transaction."""
    edition_id = _edition_id(edition)
    close_gate(edition_id)
    already = status_of(edition_id)
    status = transition(edition, Action.CANCEL, commit=False)
    if already != status:
        ledger.cancel_queued(edition_id, "edition cancelled")
        db.session.commit()
    return status


def retry_failed(edition: Edition | int, reply_contains: str | None = None) -> int:
    """Queue the edition's failed deliveries once more (only those whose reply contains `reply_contains`, if
    given); a sent edition goes back to sending, a paused one stays paused until resumed. Returns how many."""
    edition_id = _edition_id(edition)
    status = db.session.scalar(select(Edition.status).where(Edition.id == edition_id).with_for_update())
    if status is None or not allows(status, Action.RETRY_FAILED):
        db.session.rollback()
        raise EditionConflict(edition_id, status, str(Action.RETRY_FAILED))
    requeued = ledger.requeue_failed(edition_id, reply_contains)
    if requeued and status == EditionStatus.SENT:
        transition(edition_id, Action.RESEND, commit=False)
    db.session.commit()
    if isinstance(edition, Edition):
        db.session.expire(edition)
    return requeued


def _edition_id(edition: Edition | int) -> int:
    return edition if isinstance(edition, int) else edition.id


def reopen_edition(edition: Edition) -> Edition:
    """A cancelled edition with no deliveries at all goes back to draft (EditionConflict otherwise)."""
    transition(edition, Action.REOPEN)
    db.session.refresh(edition)
    return edition


def set_published(edition: Edition, published: bool) -> Edition:
    """Take an edition off the public archive, or put it back (its web-view links then answer 404)."""
    db.session.execute(
        update(Edition).where(Edition.id == edition.id).values(unpublished_at=None if published else utcnow())
    )
    db.session.commit()
    db.session.refresh(edition)
    return edition
