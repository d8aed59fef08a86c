"""Locales: choosing the visitor's language, and compiling the gettext catalogues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import get_locale, refresh
from flask_babel import gettext as _

from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import babel
from newsletter.core.settings import settings_of

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}
"""Each language's name in itself, for language choices; mid-sentence, use `languages_phrase`."""
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def select_locale() -> str:
    """?lang= first, then a language forced for this request, then the remembered choice, then Accept-Language."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    forced = str(g.get("forced_language", ""))
    if forced in LANGUAGES:
        return forced
    remembered = request.cookies.get(LANGUAGE_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def remember_language(response: Response) -> Response:
    """A page opened with ?lang= keeps that choice in a cookie that holds the language and nothing else."""
    asked = request.args.get("lang", "")
    if (
        request.method == "GET"
        and asked in LANGUAGES
        and request.cookies.get(LANGUAGE_COOKIE) != asked
        and response.mimetype == "text/html"
        and not request.path.startswith("/api/")
    ):
        response.set_cookie(
            LANGUAGE_COOKIE,
            asked,
            max_age=LANGUAGE_COOKIE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=settings_of(current_app).site.secure,
        )
    return response


def language_adverbs() -> dict[str, str]:
    """How each language is named mid-sentence ("in Belarusian", "па-беларуску", "по-белорусски")."""
    return {"be": _("Belarusian"), "ru": _("Russian"), "en": _("English")}


def languages_phrase(codes: list[str]) -> str:
    """Languages as a sentence says them, in the given order: "Belarusian and Russian", "па-беларуску і па-руску"."""
    names = [language_adverbs()[code] for code in codes]
    if len(names) < 2:
        return "".join(names)
    return str(_("%(first)s and %(last)s", first=", ".join(names[:-1]), last=names[-1]))


def choose_language_afresh() -> None:
    """Forget a locale chosen earlier in a shared app context (tests, requests made from the CLI)."""
    g.pop("forced_language", None)
    refresh()


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale and locale.language in LANGUAGES else DEFAULT_LANGUAGE


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> None:
    """Compile each messages.po into messages.mo when the .mo is missing or older."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po_path.parent.parent.name)
        temporary = mo_path.with_suffix(".mo.tmp")
        with temporary.open("wb") as mo_file:
            write_mo(mo_file, catalogue)
        temporary.replace(mo_path)


def init_app(app: Flask) -> None:
    compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(choose_language_afresh)
    app.after_request(remember_language)

    @app.context_processor
    def language_context() -> dict[str, Any]:
        return {
            "languages": LANGUAGES,
            "language_names": LANGUAGE_NAMES,
            "current_language": current_language(),
            "languages_phrase": languages_phrase,
        }
