"""Configuration: embedded defaults, overridden by NEWSLETTER_* environment variables."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

LANGUAGES = ("be", "ru", "en")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout (or installed tree) holding templates/, static/ and migrations/ beside the package."""

DEFAULTS: dict[str, object] = {
    "BASE_URL": "http://127.0.0.1:5000",
    "SMTP_URL": None,
    "OUTBOX_DIR": None,
    "JOURNAL_DIR": None,
    "MAIL_FROM": "Belarus Weekly <newsletter@example.org>",
    "PUBLICATION_NAME": "Belarus Weekly",
    "PUBLICATION_NAME_BE": None,
    "PUBLICATION_NAME_RU": None,
    "PUBLICATION_NAME_EN": None,
    "ORGANISATION_ADDRESS": None,
    "TIMEZONE": "Europe/Minsk",
    "SMTP_CONNECTIONS": 4,
    "SMTP_TIMEOUT": 30,
    "SMTP_PROBE_SECONDS": 30,
    "SMTP_VERIFY_TLS": True,
    "SMTP_UTF8": False,
    "SEND_RATE": 0,
    "RETRY_BASE_SECONDS": 60,
    "RETRY_MAX_AGE_SECONDS": 3 * 24 * 3600,
    "LEASE_SECONDS": 120,
    "SEND_WINDOW_LIMIT": 0,
    "SEND_WINDOW_SECONDS": 3600,
    "SMTP_MESSAGES_PER_CONNECTION": 1000,
    "THROTTLE_BACKOFF_SECONDS": 5,
    "WORKER_BATCH_SIZE": 200,
    "WORKER_PROCESSES": 0,
    "CIRCUIT_BREAKER_FAILURES": 10,
    "LEDGER_RETENTION_DAYS": 400,
    "DELIVERY_DURABLE_COMMIT": False,
    "BOUNCE_DOMAIN": None,
    "FEEDBACK_ID": None,
    "DKIM_SELECTOR": None,
    "DKIM_DOMAIN": None,
    "DKIM_PRIVATE_KEY_PATH": None,
    "CONFIRM_MAX_AGE_DAYS": 7,
    "CONFIRM_RESEND_SECONDS": 300,
    "CONSENT_TEXT_VERSION": "2026-11",
    "SCHEDULE": "mon 09:00",
    "SCHEDULE_GRACE_SECONDS": 6 * 3600,
    "REVIEW": False,
    "MAX_REQUEST_BYTES": 64 * 1024,
    "PROXY_HOPS": 0,
    "SOFT_BOUNCE_LIMIT": 3,
    "SOFT_BOUNCE_DAYS": 30,
    "BOUNCE_KEEP_DIR": None,
    "BOUNCE_MAX_BYTES": 10 * 1024 * 1024,
    "ABOUT_US_BURST": 20,
    "ABOUT_US_MINUTES": 10,
    "SNS_TOPIC_ARNS": None,
    "SNS_CERT_URL_PATTERN": r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/",
    "POSTMARK_WEBHOOK_AUTH": None,
    "BOUNCE_WEBHOOK_TOKEN": None,
    "METRICS_TOKEN": None,
    "HEARTBEAT_SECONDS": 30,
    "FEED_BE": None,
    "FEED_RU": None,
    "FEED_EN": None,
    "STORY_URL_PATTERN": None,
    "CONSOLE_REQUIRE_2FA": False,
    "CONSOLE_SESSION_MINUTES": 480,
    "CONSOLE_SESSION_MAX_HOURS": 24,
    "CONSOLE_UPLOAD_BYTES": 2 * 1024 * 1024,
    "RATE_LIMITS": None,
    "RATE_LIMIT_STORAGE_URL": "memory://",
    "ALLOWED_ORIGINS": None,
    "LOGO_PATH": None,
    "SITE_URL": None,
}


MIN_SECRET_KEY_BYTES = 32
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


class ConfigError(ValueError):
    """A setting whose value cannot be used; the message names the environment variable."""


def load_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    """Fill app.config from defaults, the environment, then explicit overrides; typed settings are checked."""
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("NEWSLETTER")
    if "NEWSLETTER_SECRET_KEY" in os.environ:  # a key is text: "12345" must not become the int 12345
        app.config["SECRET_KEY"] = os.environ["NEWSLETTER_SECRET_KEY"]
    if overrides:
        app.config.update(overrides)
    for key, default in DEFAULTS.items():
        if isinstance(default, (bool, int, float)) and app.config.get(key) is not None:
            app.config[key] = _typed(key, app.config[key], type(default))
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = _checked_secret_key(app.config.get("SECRET_KEY"), instance)
    if not app.config.get("OUTBOX_DIR"):
        app.config["OUTBOX_DIR"] = str(instance / "outbox")
    if not app.config.get("JOURNAL_DIR"):
        app.config["JOURNAL_DIR"] = str(instance / "journal")
    if not app.config.get("BOUNCE_KEEP_DIR"):
        app.config["BOUNCE_KEEP_DIR"] = str(instance / "bounces-kept")
    database_url = app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'newsletter.db'}"
    app.config["DATABASE_URL"] = database_url
    app.config["SQLALCHEMY_DATABASE_URI"] = _checked_database_url(_with_driver(database_url))
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_REQUEST_BYTES"])
    app.config["BASE_URL"] = str(app.config["BASE_URL"]).rstrip("/")
    app.config["BASE_URL_EXPLICIT"] = "NEWSLETTER_BASE_URL" in os.environ or "BASE_URL" in (overrides or {})
    app.config["SESSION_COOKIE_SECURE"] = app.config["BASE_URL"].startswith("https://")
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    _check_story_pattern(app.config.get("STORY_URL_PATTERN"))


def _check_story_pattern(value: object) -> None:
    """NEWSLETTER_STORY_URL_PATTERN must compile and capture the language code in a group."""
    if not value:
        return
    try:
        groups = re.compile(str(value)).groups
    except re.error as error:
        raise ConfigError(f"NEWSLETTER_STORY_URL_PATTERN is not a regular expression: {error}") from None
    if groups < 1:
        raise ConfigError("NEWSLETTER_STORY_URL_PATTERN needs a group capturing the language code, e.g. /(be|ru|en)/")


def _typed(key: str, value: object, kind: type) -> bool | int | float:
    """The value as the setting's type: yes/no words for flags, numbers for numbers (strings accepted)."""
    if kind is bool:
        word = str(value).strip().lower()
        if isinstance(value, bool) or word in TRUE_WORDS + FALSE_WORDS:
            return value if isinstance(value, bool) else word in TRUE_WORDS
        raise ConfigError(f"NEWSLETTER_{key} must be true or false, not {value!r}")
    try:
        number = float(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise ConfigError(f"NEWSLETTER_{key} must be a number of zero or more, not {value!r}")
    return int(number) if number.is_integer() else number


def _with_driver(url: str) -> str:
    """Use psycopg 3 for plain postgres:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _checked_database_url(url: str) -> str:
    """A URL SQLAlchemy can open (form and dialect), or one line naming the variable instead of a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url).get_dialect().import_dbapi()
    except (ArgumentError, ValueError, ImportError) as error:
        shown = re.sub(r"//[^/@]*@", "//***@", url)  # no password in the line, whatever the URL's shape
        raise ConfigError(
            f"NEWSLETTER_DATABASE_URL is not a usable database URL ({str(error).splitlines()[0][:120]}): "
            f"{shown[:120]!r}; expected postgresql://user:password@host:5432/name or sqlite:////path/to/file.db"
        ) from None
    return url


def _checked_secret_key(configured: object, instance: Path) -> str:
    """The signing key as text of at least MIN_SECRET_KEY_BYTES; generated once when none is configured.

    A short key would let anyone forge unsubscribe and preferences links, so start-up stops instead.
    """
    if configured is None or configured == "":
        key, origin = _instance_secret_key(instance), f"the key file {instance / 'secret_key'}"
    else:
        key, origin = str(configured), "NEWSLETTER_SECRET_KEY"
    if len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"NEWSLETTER_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes; {origin} holds "
            f"{len(key.encode('utf-8'))} (delete a short key file to have a new key generated, or set the variable)"
        )
    return key


def _instance_secret_key(instance: Path) -> str:
    """Generate the signing key once and keep it in the instance folder, safely against racing processes.

    The key is written whole to a temporary file and then linked into place: `os.link` fails if another
    process got there first, and then that process's key, complete by construction, is the one read.
    """
    key_file = instance / "secret_key"
    if not key_file.exists():
        temporary = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: its key is the key
                os.link(temporary, key_file)
        finally:
            temporary.unlink(missing_ok=True)
    return key_file.read_text().strip()
