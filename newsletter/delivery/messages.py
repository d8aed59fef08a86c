"""Building each claimed delivery's message bytes, and building the next one while the relay reads the last.

A digest comes from its edition's template (personal links spliced in, signed when DKIM is on); other mail is
rendered from the database. With pipelining a sender writes a message and then waits for the relay's reply;
building the next message in that wait (`build_ahead`) keeps the connection busy, and the reply is most
often there when the sender reads it, so the thread neither blocks on the socket nor queues again for the
interpreter lock: a sender thread switched five times a message before.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.core.tokens import LinkSigner
from newsletter.delivery.claims import Job
from newsletter.delivery.digest import DigestTemplate, build_digest_message
from newsletter.delivery.ledger import NothingToRender, render_transactional
from newsletter.delivery.signing import DkimSigner
from newsletter.models.delivery import DeliveryKind

log = logging.getLogger(__name__)


class MessageBuilder:
    """Message bytes per job; `templates` (edition id → template) is filled by the worker before it submits
    an edition's jobs. Needs an app context to be made; its methods run in any sender thread's."""

    def __init__(self, signer: DkimSigner | None, settings: Settings):
        self.signer = signer
        self.settings = settings
        self.templates: dict[int, DigestTemplate] = {}
        self._links = LinkSigner(settings)
        self._ahead = threading.local()  # each sender thread's (job, message) built ahead, if any

    def message(self, job: Job) -> bytes:
        """The job's message: the one built ahead for this very job (object) by this thread, or built now. A
        row given back and claimed again is a new job: a message built ahead for the old one (with its Date,
        its links' timestamps and the address of then) is never sent for it.

        Raises NothingToRender when there is nothing to send, SQLAlchemyError when the database could not say.
        """
        ahead: tuple[Job, bytes] | None = getattr(self._ahead, "built", None)
        self._ahead.built = None
        if ahead is not None and ahead[0] is job:
            return ahead[1]
        if job.kind == DeliveryKind.DIGEST:
            assert job.edition_id is not None and job.subscriber_id is not None and job.email is not None, job
            message = build_digest_message(self.templates[job.edition_id], job.subscriber_id, job.email, self._links)
        else:
            message = self._render_transactional(job)
        return self.signer.sign(message) if self.signer else message

    def build_ahead(self, job: Job | None) -> None:
        """Build a digest's message now (in the wait for the relay's reply), for `message` to hand over. Never
        raises: a digest that cannot be built is built again in its turn, where the failure is dealt with.
        Other mail is left to its turn, since it needs the database."""
        self._ahead.built = None
        if job is None or job.kind != DeliveryKind.DIGEST or job.edition_id not in self.templates:
            return
        try:
            self._ahead.built = (job, self.message(job))
        except Exception:  # noqa: BLE001 - see the docstring
            self._ahead.built = None

    def _render_transactional(self, job: Job) -> bytes:
        """Render in this thread's own session, closed at once so no transaction stays open."""
        try:
            return render_transactional(job, self.settings)
        except (NothingToRender, SQLAlchemyError):
            raise
        except Exception as error:
            log.exception("delivery %s: the %s message could not be rendered", job.delivery_id, job.kind)
            reason = f"the {job.kind} message could not be rendered ({error.__class__.__name__})"
            raise NothingToRender(reason) from error
        finally:
            db.session.remove()
