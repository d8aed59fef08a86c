"""`newsletter bounces serve`: a small SMTP server for the bounce domain's MX, or a relay's forward.

It accepts mail only for genuine VERP addresses (`bounces+<id>-<mac>@…`, the MAC checked) and answers 550
to anything else, refuses messages over NEWSLETTER_BOUNCE_MAX_BYTES (552, aiosmtpd's size limit). A report
it cannot read or store is kept as `.eml` and answered 250 (final: the sender must not send it again and
again); only a database that cannot be reached gets 451, so the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask

from newsletter.bounces import rules
from newsletter.bounces.mailboxes import take
from newsletter.delivery.verp import delivery_id_from_bounce

log = logging.getLogger(__name__)
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command lines name addresses


class BounceHandler:
    """aiosmtpd handler: RCPT checks the VERP address, DATA records the report off the event loop."""

    def __init__(self, app: Flask, settings: rules.BounceRules):
        self.app = app
        self.settings = settings

    def _genuine(self, address: str) -> bool:
        with self.app.app_context():
            return delivery_id_from_bounce(address, self.settings.secret) is not None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self._genuine(address):
            return "550 5.1.1 not a bounce address of this list"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    def _record(self, raw: bytes, recipients: tuple[str, ...]) -> rules.Outcome:
        with self.app.app_context():
            return take(raw, self.settings, source="smtp", envelope=recipients)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        loop = asyncio.get_running_loop()
        raw = envelope.original_content
        try:
            if raw is None:  # aiosmtpd sets it before DATA reaches the handler
                raise ValueError("no message content")
            outcome = await loop.run_in_executor(None, self._record, raw, tuple(envelope.rcpt_tos))
        except Exception as error:  # the database or disk failed: the sender keeps the report and retries
            log.error("bounce report not recorded (%s); answered 451", type(error).__name__)
            return "451 4.3.0 cannot record the report now; try again later"
        return f"250 2.0.0 report {outcome}"


class BounceController(Controller):
    """aiosmtpd's threaded controller with the size limit and no SMTPUTF8 requirement."""

    def __init__(self, handler: BounceHandler, *, host: str, port: int, max_bytes: int):
        self.max_bytes = max_bytes
        super().__init__(handler, hostname=host, port=port)

    def factory(self) -> SMTP:
        return SMTP(
            self.handler,
            data_size_limit=self.max_bytes,
            decode_data=False,
            hostname="bounces",
            ident="newsletter bounces",
        )


def make_server(app: Flask, host: str, port: int) -> BounceController:
    """A bounce server bound to host:port (not started)."""
    settings = rules.BounceRules.from_config(app.config)
    return BounceController(
        BounceHandler(app, settings), host=host, port=port, max_bytes=int(app.config["BOUNCE_MAX_BYTES"])
    )
