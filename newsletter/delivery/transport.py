"""Transports: `.eml` files in an outbox folder (the default) or one persistent SMTP connection."""

from __future__ import annotations

import os
import smtplib
import ssl
import time
import uuid
from pathlib import Path
from typing import TypeAlias

from newsletter.core.settings import MailSettings, SmtpSettings
from newsletter.delivery.pipelining import Envelope, WhileWaiting, pipelined_send
from newsletter.delivery.replies import CONNECT, DATA, MAIL, RCPT, SmtpReply

IDLE_PROBE_SECONDS = 5.0


class DeliveryError(Exception):
    """A message was not accepted; `temporary` says whether trying again later may work."""

    def __init__(self, reply: SmtpReply, temporary: bool | None = None):
        super().__init__(str(reply))
        self.reply = reply
        self.temporary = reply.temporary if temporary is None else temporary


class FileTransport:
    """Writes each message as one .eml file, atomically, into the outbox folder."""

    def __init__(self, outbox_dir: str | Path):
        self.outbox = Path(outbox_dir)
        self.outbox.mkdir(parents=True, exist_ok=True)

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        following: Envelope | None = None,
        while_waiting: WhileWaiting = None,
    ) -> SmtpReply:
        """Write the message (`following` and `while_waiting` are the SMTP transport's: a file waits for no reply)."""
        name = f"{uuid.uuid4().hex}.eml"
        temporary = self.outbox / f".{name}.tmp"
        with open(temporary, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as handle:
            handle.write(message)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.outbox / name)
        return SmtpReply(250, f"written {name}")

    def keep_only(self, envelope: Envelope | None) -> None:
        """Files announce nothing ahead (see `SmtpTransport.keep_only`)."""

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"outbox {self.outbox}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SmtpTransport:
    """One persistent SMTP connection, opened on first use, reopened after errors or N messages."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._connection: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        self._content_started = False
        self._last_used = time.monotonic()
        self._announced: Envelope | None = None  # the next message's envelope, sent with this one's content

    def describe(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.settings.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        """A ready session; any failure here is the relay's or the settings', never the message's: temporary."""
        try:
            return self._open_session()
        except smtplib.SMTPResponseException as error:
            reply = SmtpReply(error.smtp_code, _text(error.smtp_error), CONNECT)
        except smtplib.SMTPNotSupportedError as error:
            reply = SmtpReply(0, f"server refused TLS: {error}", CONNECT)
        except (smtplib.SMTPException, OSError, ValueError) as error:
            reply = SmtpReply(0, f"cannot connect: {error.__class__.__name__}: {error}"[:900], CONNECT)
        raise DeliveryError(reply, temporary=True)

    def _open_session(self) -> smtplib.SMTP:
        s = self.settings
        connection: smtplib.SMTP
        if s.implicit_tls:
            connection = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls_context())
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            connection.ehlo()
            if s.starttls:
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            if s.username:
                connection.login(s.username, s.password or "")
        except BaseException:
            connection.close()
            raise
        self._sent_on_connection = 0
        return connection

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        following: Envelope | None = None,
        while_waiting: WhileWaiting = None,
    ) -> SmtpReply:
        """Send one message; a pooled connection the relay closed meanwhile is replaced at once, not deferred.

        `following` is the envelope of the message the caller will most likely send next: it goes out with
        this message's content (RFC 2920 allows content first in a group), saving that message a round trip.
        A caller that then sends something else, or nothing, calls `keep_only` first. `while_waiting` is work
        (it must not raise) done while the relay reads the content, before its reply is read: with
        pipelining it runs at most once, without it not at all."""
        reused = self._connection is not None
        try:
            return self._send_once(envelope_from, recipient, message, following, while_waiting)
        except DeliveryError as error:
            if not (reused and error.reply.stage == DATA and error.reply.code == 0 and not self._content_started):
                raise
        return self._send_once(envelope_from, recipient, message, following, while_waiting)

    def keep_only(self, envelope: Envelope | None) -> None:
        """Drop the connection if it carries an announced envelope other than `envelope`: the relay waits for
        that message's content, and nothing but a new session gets it out of that state."""
        if self._announced is not None and self._announced != envelope:
            self._drop()

    def _send_once(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        following: Envelope | None,
        while_waiting: WhileWaiting = None,
    ) -> SmtpReply:
        self._content_started = False
        envelope = Envelope(envelope_from, recipient)
        self.keep_only(envelope)
        try:
            if self._connection is None:
                self._connection = self._connect()
            if not (envelope_from + recipient).isascii():
                self._content_started = True
                self._connection.sendmail(envelope_from, [recipient], message, mail_options=["SMTPUTF8"])
            elif self._connection.has_extn("pipelining"):
                announced, self._announced = self._announced == envelope, None
                following = following if self._may_announce(following) else None

                def content_going_out() -> None:  # with the next envelope, if any: from now on it is announced
                    self._content_started, self._announced = True, following

                pipelined_send(
                    self._connection,
                    envelope,
                    message,
                    content_going_out,
                    announced=announced,
                    following=following,
                    while_waiting=while_waiting,
                )
            else:
                self._probe_if_idle(self._connection)
                self._content_started = True
                self._connection.sendmail(envelope_from, [recipient], message)
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(SmtpReply(553, f"5.6.7 {error}", RCPT)) from error
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise self._failure(code, text, RCPT) from error
        except smtplib.SMTPSenderRefused as error:
            raise self._failure(error.smtp_code, error.smtp_error, MAIL) from error
        except smtplib.SMTPResponseException as error:
            raise self._failure(error.smtp_code, error.smtp_error, DATA) from error
        except DeliveryError:
            self.close()
            raise
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as error:
            self._drop()
            detail = f"connection problem: {error.__class__.__name__}: {error}"
            raise DeliveryError(SmtpReply(0, detail[:900], DATA), temporary=True) from error
        self._sent_on_connection += 1
        self._last_used = time.monotonic()
        if self._sent_on_connection >= self.settings.messages_per_connection:
            self.close()
        return SmtpReply(250, "accepted")

    def _may_announce(self, following: Envelope | None) -> bool:
        limit = self.settings.messages_per_connection
        return following is not None and following.ascii() and self._sent_on_connection + 1 < limit

    def _probe_if_idle(self, connection: smtplib.SMTP) -> None:
        """Without pipelining the content goes out in the same call: check a connection idle for a while first."""
        if time.monotonic() - self._last_used < IDLE_PROBE_SECONDS:
            return
        code, _text = connection.noop()
        if code != 250:
            raise smtplib.SMTPServerDisconnected(f"NOOP answered {code}")

    def _failure(self, code: int, text: bytes | str, stage: str) -> DeliveryError:
        if code == 421 or code < 400:
            self.close()
        else:
            self._reset()
        return DeliveryError(SmtpReply(code, _text(text), stage))

    def _reset(self) -> None:
        if self._announced is not None:
            return  # the refused message's transaction is over, and the next envelope is on its way
        try:
            if self._connection is not None:
                self._connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        self._announced = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        if self._announced is not None:
            return self._drop()  # QUIT would be taken for the announced message's content
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


Transport: TypeAlias = FileTransport | SmtpTransport


def open_transport(mail: MailSettings) -> Transport:
    """The transport the configuration asks for: SMTP when NEWSLETTER_SMTP_URL is set, else files."""
    if mail.smtp_url:
        return SmtpTransport(mail.smtp())
    return FileTransport(mail.outbox_dir)
