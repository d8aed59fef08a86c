"""Rate limits: per client IP on public POSTs, per address and overall on the emails they cause.

`NEWSLETTER_RATE_LIMITS` holds named limits, `NAME=LIMIT[,LIMIT...]` separated by `;`, where a
LIMIT is `N/second|minute|hour|day|month` or `N per 5 minutes` (the `limits` package's notation)
and `NAME=off` switches one off; a plain `off` switches every limit off. Names not given keep
their defaults (`DEFAULT_LIMITS`). Counters live in `NEWSLETTER_RATE_LIMIT_STORAGE_URL`
(`memory://`, per process, or `redis://host:port/db`, shared by every process).

Request limits are counted by Flask-Limiter per client IP, the one ProxyFix derived from
`NEWSLETTER_PROXY_HOPS`. A view is limited in one line, e.g. the console's sign-in POST:

    @rate_limits.limit("sign-in")

Email limits (`address-mail`, `transactional-mail`) are counted by `mail_allowed`, which the
subscription service calls before it queues a confirmation or notice: a request over them is
answered exactly like an accepted one, and simply sends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app
from flask_limiter import Limiter, RouteLimit
from flask_limiter.util import get_remote_address
from limits import parse_many

from newsletter.core.addresses import mailbox_digest
from newsletter.core.config import ConfigError

log = logging.getLogger(__name__)

SUBSCRIBE = "subscribe"
CONFIRM = "confirm"
PREFERENCES = "preferences"
UNSUBSCRIBE = "unsubscribe"
SIGN_IN = "sign-in"
ADDRESS_MAIL = "address-mail"
TRANSACTIONAL_MAIL = "transactional-mail"

DEFAULT_LIMITS: dict[str, str] = {
    SUBSCRIBE: "10/minute,100/hour",  # per client IP: subscription API and form together
    CONFIRM: "30/minute",  # per client IP: confirm button POSTs
    PREFERENCES: "30/minute",  # per client IP: preferences form POSTs
    UNSUBSCRIBE: "120/minute",  # per client IP: mailbox providers send one-click POSTs from few IPs
    SIGN_IN: "5/minute,30/hour",  # per client IP: console sign-in POSTs
    ADDRESS_MAIL: "3/day",  # per mailbox key: confirmations and "already subscribed" notices
    TRANSACTIONAL_MAIL: "1000/hour",  # every confirmation and notice together
}
OFF = "off"
EXTENSION_KEY = "newsletter_rate_limits"


@dataclass(frozen=True)
class RateLimitSettings:
    """The named limits in force (a name absent from `limits` is off) and where they are counted."""

    limits: dict[str, str]
    storage_url: str

    def for_name(self, name: str) -> str:
        return self.limits.get(name, "")


def parse_settings(raw: object, storage_url: object) -> RateLimitSettings:
    """`NEWSLETTER_RATE_LIMITS` as settings; a ConfigError names the variable and the bad entry."""
    text = "" if raw is None else str(raw).strip()
    storage = str(storage_url or "memory://")
    if not storage.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        raise ConfigError(f"NEWSLETTER_RATE_LIMIT_STORAGE_URL must be memory:// or redis://…, not {storage!r}")
    if text.lower() in (OFF, "false", "0"):
        return RateLimitSettings({}, storage)
    limits = dict(DEFAULT_LIMITS)
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, equals, value = (piece.strip() for piece in entry.partition("="))
        if not equals or name not in DEFAULT_LIMITS:
            known = ", ".join(DEFAULT_LIMITS)
            raise ConfigError(f"NEWSLETTER_RATE_LIMITS: {entry!r} is not NAME=LIMIT with NAME one of {known}")
        if value.lower() == OFF:
            limits.pop(name)
            continue
        try:
            parse_many(value)
        except ValueError as error:
            raise ConfigError(f"NEWSLETTER_RATE_LIMITS: {value!r} for {name} is not a limit like 10/minute") from error
        limits[name] = value
    return RateLimitSettings(limits, storage)


def client_ip() -> str:
    """The client address as ProxyFix left it (it honours NEWSLETTER_PROXY_HOPS)."""
    return get_remote_address()


class NewsletterLimiter(Limiter):
    """Flask-Limiter, re-initialisable: one extension object serves every app a process builds (tests)."""

    def init_app(self, app: Flask) -> None:
        self._key_prefix = app.config.get("RATELIMIT_KEY_PREFIX", "")
        self._storage_dead = False
        super().init_app(app)


limiter = NewsletterLimiter(key_func=client_ip, headers_enabled=True, in_memory_fallback_enabled=True)


def settings() -> RateLimitSettings:
    limits: RateLimitSettings = current_app.extensions[EXTENSION_KEY]
    return limits


def _limit_string(name: str) -> Callable[[], str]:
    return lambda: settings().for_name(name)


def limit(name: str, methods: tuple[str, ...] = ("POST",)) -> RouteLimit:
    """Decorate a view with the named per-IP limit (counted for `methods` only); shared by every view using it."""
    return limiter.shared_limit(_limit_string(name), scope=name, methods=list(methods))


def _hit(name: str, *identifiers: str) -> bool:
    """Count one use of the named limit; True while under it (and when the store cannot be reached)."""
    if not limiter.enabled:
        return True
    try:
        return all(limiter.limiter.hit(item, name, *identifiers) for item in parse_many(settings().for_name(name)))
    except Exception:  # the counter store is down: sending a confirmation beats refusing a reader
        log.exception("rate limit store unreachable while counting %s", name)
        return True


def mail_allowed(address: str, secret: str) -> bool:
    """May one more confirmation or notice go to this address's mailbox, and out at all this hour?

    The per-address limit counts per mailbox key (`victim+1@gmail.com` and `v.ictim@googlemail.com` are
    one mailbox), under a keyed hash: counters never hold an address, in memory or in Redis.
    """
    limits = settings()
    digest = mailbox_digest(address, secret)
    if limits.for_name(ADDRESS_MAIL) and not _hit(ADDRESS_MAIL, digest):
        log.info("address mail limit reached; request answered without an email")
        return False
    if limits.for_name(TRANSACTIONAL_MAIL) and not _hit(TRANSACTIONAL_MAIL, "all"):
        log.warning("transactional mail ceiling reached; request answered without an email")
        return False
    return True


def _no_retry_after_unless_refused(response: Response) -> Response:
    """Flask-Limiter adds Retry-After to every limited response; keep it only where it means something."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def init_app(app: Flask) -> None:
    """Read the limits once; `off` disables Flask-Limiter altogether."""
    limits = parse_settings(app.config.get("RATE_LIMITS"), app.config.get("RATE_LIMIT_STORAGE_URL"))
    app.extensions[EXTENSION_KEY] = limits
    app.config["RATELIMIT_ENABLED"] = bool(limits.limits)
    app.config["RATELIMIT_STORAGE_URI"] = limits.storage_url
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "newsletter")
    app.config.setdefault(
        "RATELIMIT_STORAGE_OPTIONS",
        {"socket_connect_timeout": 2, "socket_timeout": 2} if limits.storage_url.startswith("redis") else {},
    )
    app.after_request(_no_retry_after_unless_refused)
    limiter.init_app(app)
