"""Transports: `.eml` files in an outbox folder (the default) or an SMTP server."""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class SmtpReply:
    code: int
    text: str

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 enhanced status code at the start of the text, e.g. '5.1.1'."""
        first = self.text.split(" ", 1)[0]
        parts = first.split(".")
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            return first
        return None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class DeliveryError(Exception):
    """A message was not accepted; `temporary` says whether trying again later may work."""

    def __init__(self, reply: SmtpReply, temporary: bool):
        super().__init__(str(reply))
        self.reply = reply
        self.temporary = temporary


class FileTransport:
    """Writes each message as one .eml file, atomically, into the outbox folder."""

    def __init__(self, outbox_dir: str | Path):
        self.outbox = Path(outbox_dir)
        self.outbox.mkdir(parents=True, exist_ok=True)

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SmtpReply:
        name = f"{uuid.uuid4().hex}.eml"
        temporary = self.outbox / f".{name}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(message)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.outbox / name)
        return SmtpReply(250, f"written {name}")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    verify_tls: bool
    timeout: float

    @classmethod
    def from_url(cls, url: str, *, verify_tls: bool = True, timeout: float = 30) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"NEWSLETTER_SMTP_URL must look like smtp://user:pass@host:port, not {parts.scheme}://…")
        query = parse_qs(parts.query)
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit_tls,
            starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
            verify_tls=verify_tls and query.get("verify", ["true"])[0].lower() not in ("0", "false", "no"),
            timeout=timeout,
        )


class SmtpTransport:
    """One persistent SMTP connection, opened on first use and reopened after any error."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._connection: smtplib.SMTP | None = None

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.settings.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.implicit_tls:
            connection = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls_context())
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        connection.ehlo()
        if s.starttls:
            connection.starttls(context=self._tls_context())
            connection.ehlo()
        if s.username:
            connection.login(s.username, s.password or "")
        return connection

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SmtpReply:
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.sendmail(envelope_from, [recipient], message)
            return SmtpReply(250, "accepted")
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise self._failure(code, text) from error
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise self._failure(error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPResponseException as error:
            raise self._failure(error.smtp_code, error.smtp_error) from error
        except (smtplib.SMTPException, OSError, socket.timeout) as error:
            self.close()
            raise DeliveryError(SmtpReply(0, f"connection problem: {error.__class__.__name__}: {error}"), True) from error

    def _failure(self, code: int, text: bytes | str) -> DeliveryError:
        message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if code in (421,) or code < 400:
            self.close()
        else:
            self._reset()
        return DeliveryError(SmtpReply(code, message), temporary=not 500 <= code < 600)

    def _reset(self) -> None:
        try:
            if self._connection is not None:
                self._connection.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def open_transport(config) -> FileTransport | SmtpTransport:
    """The transport the configuration asks for: SMTP when NEWSLETTER_SMTP_URL is set, else files."""
    if config.get("SMTP_URL"):
        settings = SmtpSettings.from_url(
            config["SMTP_URL"], verify_tls=bool(config["SMTP_VERIFY_TLS"]), timeout=float(config["SMTP_TIMEOUT"])
        )
        return SmtpTransport(settings)
    return FileTransport(config["OUTBOX_DIR"])
