"""What makes the public pages the publication's own: `/`, the favicon, an optional logo and a way back.

`NEWSLETTER_LOGO_PATH` is served by the app itself at `/logo` (no third-party host sees a reader), and
`NEWSLETTER_SITE_URL` is the link back to the publication's site in every page's header.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, redirect, request, send_file, send_from_directory, url_for

from newsletter.core.config import ConfigError

bp = Blueprint("reader", __name__)
LOGO_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
ONE_DAY = 24 * 3600


@bp.get("/")
def home():
    lang = request.args.get("lang")
    return redirect(
        url_for("subscriptions.subscribe_form", lang=lang) if lang else url_for("subscriptions.subscribe_form"), 302
    )


@bp.get("/favicon.ico")
@bp.get("/favicon.svg")
def favicon():
    return send_from_directory(str(current_app.static_folder), "favicon.svg", mimetype="image/svg+xml", max_age=ONE_DAY)


@bp.get("/logo")
def logo():
    path = current_app.config.get("LOGO_PATH")
    if not path:
        abort(404)
    return send_file(path, mimetype=LOGO_TYPES[Path(path).suffix.lower()], max_age=ONE_DAY)


def _checked_site_url(raw: object) -> str | None:
    if not raw:
        return None
    parts = urlsplit(str(raw))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"NEWSLETTER_SITE_URL must be an http or https address, not {raw!r}")
    return str(raw)


def _checked_logo_path(raw: object) -> str | None:
    if not raw:
        return None
    path = Path(str(raw)).expanduser()
    if path.suffix.lower() not in LOGO_TYPES or not path.is_file():
        raise ConfigError(f"NEWSLETTER_LOGO_PATH must name an existing {', '.join(LOGO_TYPES)} file, not {raw!r}")
    return str(path.resolve())


def init_app(app: Flask) -> None:
    app.config["SITE_URL"] = _checked_site_url(app.config.get("SITE_URL"))
    app.config["LOGO_PATH"] = _checked_logo_path(app.config.get("LOGO_PATH"))
    app.register_blueprint(bp)
