"""Locales: choosing the visitor's language, and compiling the gettext catalogues."""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_request_context, request
from flask_babel import get_locale, refresh

from .config import LANGUAGES
from .extensions import babel

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}


def select_locale() -> str:
    """?lang= first, then a language forced for this request, then Accept-Language, then en."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    forced = g.get("forced_language")
    if forced in LANGUAGES:
        return forced
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


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

    @app.context_processor
    def language_context() -> dict:
        return {"languages": LANGUAGES, "language_names": LANGUAGE_NAMES, "current_language": current_language()}
