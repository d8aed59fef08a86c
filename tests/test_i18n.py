"""Every user-facing string in code and templates is translated into Belarusian and Russian."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from newsletter.core import i18n

ROOT = Path(__file__).resolve().parent.parent
METHODS = [
    ("newsletter/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.mjml", "jinja2"),
    ("templates/**.txt", "jinja2"),
]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2), "lazy_ngettext": (1, 2)}


def _source_messages() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map={"templates/**": {"extensions": "jinja2.ext.i18n"}}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalogue(language: str):
    with open(ROOT / f"newsletter/core/translations/{language}/LC_MESSAGES/messages.po", "rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", ["be", "ru"])
def test_every_message_is_translated(language):
    catalogue = _catalogue(language)
    untranslated = sorted(
        message
        for message in _source_messages()
        if not (entry := catalogue.get(message))
        or not all(entry.string if isinstance(entry.string, tuple) else [entry.string])
    )
    assert untranslated == []


@pytest.mark.parametrize("language", ["be", "ru", "en"])
def test_catalogue_has_no_stale_entries(language):
    source = _source_messages()
    catalogue = _catalogue(language)
    stale = sorted(message.id if isinstance(message.id, str) else message.id[0] for message in catalogue if message.id)
    assert [message for message in stale if message not in source] == []


@pytest.mark.parametrize("path", ["/subscribe", "/archive"])
def test_language_names_come_from_one_place(client, monkeypatch, path):
    monkeypatch.setitem(i18n.LANGUAGE_NAMES, "be", "Belarusian-from-i18n")
    page = client.get(path).get_data(as_text=True)
    assert page.count("Belarusian-from-i18n") >= 2 and "Беларуская" not in page


@pytest.mark.parametrize("language", ["be", "ru", "en"])
def test_each_catalogue_parses_without_a_malformed_entry(language):
    """Two English entries once had no msgstr: Babel warned at every start and dropped them."""
    path = Path(i18n.__file__).parent / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as catalogue:
        read_po(catalogue, abort_invalid=True)
