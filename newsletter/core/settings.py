"""Typed, frozen settings read once from the configuration; services take these values, not `current_app`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


def _flag(query: dict, name: str, default: str) -> bool:
    return query.get(name, [default])[0].lower() in ("1", "true", "yes", "on")


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
    messages_per_connection: int = 1000

    @classmethod
    def from_url(cls, url: str, *, verify_tls: bool = True, timeout: float = 30, messages_per_connection: int = 1000):
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
            starttls=_flag(query, "starttls", "false"),
            verify_tls=verify_tls and _flag(query, "verify", "true"),
            timeout=timeout,
            messages_per_connection=max(1, int(messages_per_connection)),
        )


def smtp_settings(config) -> SmtpSettings:
    return SmtpSettings.from_url(
        config["SMTP_URL"],
        verify_tls=bool(config["SMTP_VERIFY_TLS"]),
        timeout=float(config["SMTP_TIMEOUT"]),
        messages_per_connection=int(config.get("SMTP_MESSAGES_PER_CONNECTION") or 1000),
    )
