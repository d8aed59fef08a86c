"""Typed, frozen settings read once from the configuration; services take these values, not `current_app`.

`Settings.from_config(app.config)` runs once in the app factory, after `load_config`, and the result is kept on
the app; the interface layers (and the processes that run for long: worker, scheduler) fetch it with
`settings_of(app)` and hand services the part or the plain values they need.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsletter.core.config import DEFAULTS, LANGUAGES, ConfigError

if TYPE_CHECKING:
    from flask import Flask

EXTENSION_KEY = "newsletter.settings"
PREFIX = "NEWSLETTER_"
NOT_SETTINGS = ("SECRET_KEY", "DATABASE_URL", "TEST_DATABASE_URL", "INSTANCE_PATH")
"""NEWSLETTER_* variables read outside the settings table (the key, the database, the tests' database)."""


def _flag(query: dict[str, list[str]], name: str, default: str) -> bool:
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
    def from_url(
        cls, url: str, *, verify_tls: bool = True, timeout: float = 30, messages_per_connection: int = 1000
    ) -> SmtpSettings:
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


def smtp_settings(config: Mapping[str, Any]) -> SmtpSettings:
    return SmtpSettings.from_url(
        config["SMTP_URL"],
        verify_tls=bool(config["SMTP_VERIFY_TLS"]),
        timeout=float(config["SMTP_TIMEOUT"]),
        messages_per_connection=int(config.get("SMTP_MESSAGES_PER_CONNECTION") or 1000),
    )


@dataclass(frozen=True)
class SiteSettings:
    """The public site: where links point, the signing key, the publication's names and the week's time zone."""

    base_url: str
    secret_key: str
    publication_name: str
    publication_names: tuple[tuple[str, str], ...]
    organisation_address: str | None
    site_url: str | None
    logo_path: Path | None
    timezone: ZoneInfo
    proxy_hops: int
    max_request_bytes: int
    allowed_origins: str | None

    @property
    def secure(self) -> bool:
        return self.base_url.startswith("https://")

    def publication_name_in(self, language: str) -> str:
        return dict(self.publication_names).get(language) or self.publication_name


@dataclass(frozen=True)
class MailSettings:
    """How mail leaves: the sender, the transport (SMTP or .eml files), envelope and signing."""

    mail_from: str
    smtp_url: str | None
    smtp_verify_tls: bool
    smtp_timeout: float
    smtp_messages_per_connection: int
    outbox_dir: Path
    smtp_utf8: bool
    bounce_domain: str | None
    feedback_id: str | None
    dkim_selector: str | None
    dkim_domain: str | None
    dkim_private_key_path: Path | None

    @property
    def sender_domain(self) -> str:
        return parseaddr(self.mail_from)[1].rpartition("@")[2]

    @property
    def envelope_domain(self) -> str:
        return self.bounce_domain or self.sender_domain

    def smtp(self) -> SmtpSettings:
        """The relay's settings from NEWSLETTER_SMTP_URL (ValueError when it cannot be used)."""
        return SmtpSettings.from_url(
            str(self.smtp_url),
            verify_tls=self.smtp_verify_tls,
            timeout=self.smtp_timeout,
            messages_per_connection=self.smtp_messages_per_connection,
        )


@dataclass(frozen=True)
class DeliverySettings:
    """The delivery worker and its pool."""

    smtp_connections: int
    send_rate: float
    retry_base_seconds: float
    retry_max_age_seconds: float
    lease_seconds: float
    send_window_limit: int
    send_window_seconds: float
    throttle_backoff_seconds: float
    worker_batch_size: int
    worker_processes: int
    circuit_breaker_failures: int
    ledger_retention_days: float
    durable_commit: bool
    heartbeat_seconds: int


@dataclass(frozen=True)
class BounceSettings:
    soft_bounce_limit: int
    soft_bounce_days: int
    keep_dir: Path
    max_bytes: int
    sns_cert_url_pattern: str
    postmark_webhook_auth: str | None
    webhook_token: str | None
    metrics_token: str | None


@dataclass(frozen=True)
class ScheduleSettings:
    schedule: str
    grace_seconds: float
    review: bool


@dataclass(frozen=True)
class ConsoleSettings:
    require_2fa: bool
    session_minutes: float
    upload_bytes: int


@dataclass(frozen=True)
class PrivacySettings:
    """Consent and confirmation: how long a link works, how often mail may go to one address, the text's version."""

    confirm_max_age_days: float
    confirm_resend_seconds: float
    consent_text_version: str

    @property
    def confirm_max_age(self) -> timedelta:
        """How long a confirmation link works."""
        return timedelta(days=self.confirm_max_age_days)


@dataclass(frozen=True)
class LimitSettings:
    rate_limits: str | None
    storage_url: str


@dataclass(frozen=True)
class Settings:
    site: SiteSettings
    mail: MailSettings
    delivery: DeliverySettings
    bounces: BounceSettings
    schedule: ScheduleSettings
    console: ConsoleSettings
    privacy: PrivacySettings
    limits: LimitSettings
    feeds: tuple[tuple[str, str], ...]
    """(language, feed URL or path) for each language with a feed."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read and check every setting once; a value that cannot be used raises ConfigError naming its variable."""
        read = _Reader(config)
        return cls(
            site=SiteSettings(
                base_url=str(config["BASE_URL"]).rstrip("/"),
                secret_key=str(config["SECRET_KEY"]),
                publication_name=str(config["PUBLICATION_NAME"]),
                publication_names=tuple(
                    (language, str(name))
                    for language in LANGUAGES
                    if (name := config.get(f"PUBLICATION_NAME_{language.upper()}"))
                ),
                organisation_address=read.text("ORGANISATION_ADDRESS"),
                site_url=read.text("SITE_URL"),
                logo_path=read.path("LOGO_PATH"),
                timezone=read.zone("TIMEZONE"),
                proxy_hops=read.integer("PROXY_HOPS"),
                max_request_bytes=read.integer("MAX_REQUEST_BYTES"),
                allowed_origins=read.text("ALLOWED_ORIGINS"),
            ),
            mail=MailSettings(
                mail_from=str(config["MAIL_FROM"]),
                smtp_url=read.text("SMTP_URL"),
                smtp_verify_tls=read.flag("SMTP_VERIFY_TLS"),
                smtp_timeout=read.number("SMTP_TIMEOUT"),
                smtp_messages_per_connection=read.integer("SMTP_MESSAGES_PER_CONNECTION") or 1000,
                outbox_dir=Path(str(config["OUTBOX_DIR"])),
                smtp_utf8=read.flag("SMTP_UTF8"),
                bounce_domain=read.text("BOUNCE_DOMAIN"),
                feedback_id=read.text("FEEDBACK_ID"),
                dkim_selector=read.text("DKIM_SELECTOR"),
                dkim_domain=read.text("DKIM_DOMAIN"),
                dkim_private_key_path=read.path("DKIM_PRIVATE_KEY_PATH"),
            ),
            delivery=DeliverySettings(
                smtp_connections=read.integer("SMTP_CONNECTIONS"),
                send_rate=read.number("SEND_RATE"),
                retry_base_seconds=read.number("RETRY_BASE_SECONDS"),
                retry_max_age_seconds=read.number("RETRY_MAX_AGE_SECONDS"),
                lease_seconds=read.number("LEASE_SECONDS"),
                send_window_limit=read.integer("SEND_WINDOW_LIMIT"),
                send_window_seconds=read.number("SEND_WINDOW_SECONDS"),
                throttle_backoff_seconds=read.number("THROTTLE_BACKOFF_SECONDS"),
                worker_batch_size=read.integer("WORKER_BATCH_SIZE"),
                worker_processes=read.integer("WORKER_PROCESSES"),
                circuit_breaker_failures=read.integer("CIRCUIT_BREAKER_FAILURES"),
                ledger_retention_days=read.number("LEDGER_RETENTION_DAYS"),
                durable_commit=read.flag("DELIVERY_DURABLE_COMMIT"),
                heartbeat_seconds=read.integer("HEARTBEAT_SECONDS"),
            ),
            bounces=BounceSettings(
                soft_bounce_limit=read.integer("SOFT_BOUNCE_LIMIT"),
                soft_bounce_days=read.integer("SOFT_BOUNCE_DAYS"),
                keep_dir=Path(str(config["BOUNCE_KEEP_DIR"])),
                max_bytes=read.integer("BOUNCE_MAX_BYTES"),
                sns_cert_url_pattern=str(config["SNS_CERT_URL_PATTERN"]),
                postmark_webhook_auth=read.text("POSTMARK_WEBHOOK_AUTH"),
                webhook_token=read.text("BOUNCE_WEBHOOK_TOKEN"),
                metrics_token=read.text("METRICS_TOKEN"),
            ),
            schedule=ScheduleSettings(
                schedule=str(config["SCHEDULE"]),
                grace_seconds=read.number("SCHEDULE_GRACE_SECONDS"),
                review=read.flag("REVIEW"),
            ),
            console=ConsoleSettings(
                require_2fa=read.flag("CONSOLE_REQUIRE_2FA"),
                session_minutes=read.number("CONSOLE_SESSION_MINUTES"),
                upload_bytes=read.integer("CONSOLE_UPLOAD_BYTES"),
            ),
            privacy=PrivacySettings(
                confirm_max_age_days=read.number("CONFIRM_MAX_AGE_DAYS"),
                confirm_resend_seconds=read.number("CONFIRM_RESEND_SECONDS"),
                consent_text_version=str(config["CONSENT_TEXT_VERSION"]),
            ),
            limits=LimitSettings(
                rate_limits=read.text("RATE_LIMITS"),
                storage_url=str(config.get("RATE_LIMIT_STORAGE_URL") or "memory://"),
            ),
            feeds=tuple(
                (language, str(source)) for language in LANGUAGES if (source := config.get(f"FEED_{language.upper()}"))
            ),
        )


class _Reader:
    """Typed reads of one configuration, each error naming the variable."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config

    def text(self, key: str) -> str | None:
        value = self.config.get(key)
        return None if value is None or value == "" else str(value)

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        return Path(value) if value else None

    def flag(self, key: str) -> bool:
        value = self.config.get(key)
        if isinstance(value, bool) or value is None:
            return bool(value)
        word = str(value).strip().lower()
        if word in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            return word in ("1", "true", "yes", "on")
        raise ConfigError(f"{PREFIX}{key} must be true or false, not {value!r}")

    def number(self, key: str) -> float:
        value = self.config.get(key)
        try:
            number = float(value or 0) if not isinstance(value, bool) else float("nan")
        except (TypeError, ValueError):
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")) or number < 0:
            raise ConfigError(f"{PREFIX}{key} must be a number of zero or more, not {value!r}")
        return number

    def integer(self, key: str) -> int:
        return int(self.number(key))

    def zone(self, key: str) -> ZoneInfo:
        value = str(self.config.get(key) or "")
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigError(f"{PREFIX}{key} must name a time zone such as Europe/Minsk, not {value!r}") from error


def settings_of(app: Flask) -> Settings:
    """The app's settings, built by the factory; built again here only after a test changed `app.config`."""
    settings: Settings | None = app.extensions.get(EXTENSION_KEY)
    if settings is None:
        settings = app.extensions[EXTENSION_KEY] = Settings.from_config(app.config)
    return settings


def unknown_variables(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """Each NEWSLETTER_* name that is no setting, with the closest known name (None when nothing is close)."""
    known = [*DEFAULTS, *NOT_SETTINGS]
    found = []
    for name in sorted(names):
        key = name.removeprefix(PREFIX)
        if name.startswith(PREFIX) and key not in known:
            closest = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            found.append((name, PREFIX + closest[0] if closest else None))
    return found
