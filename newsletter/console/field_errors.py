"""The services' validation messages (English, shared with the API) in the editor's language.

The API keeps the services' English texts; the console shows the same rules through these catalogue
entries. A message not listed here is shown as the service wrote it.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

PATTERNS = [
    (re.compile(r"^is required$"), lambda m: _("This field is required.")),
    (re.compile(r"^must be a string$"), lambda m: _("This field must be text.")),
    (
        re.compile(r"^is longer than (\d+) characters$"),
        lambda m: _("This is too long (at most %(count)s characters).", count=m.group(1)),
    ),
    (
        re.compile(r"^contains a forbidden character sequence$"),
        lambda m: _("This contains characters that are not allowed."),
    ),
    (
        re.compile(r"^must be an absolute http or https address"),
        lambda m: _("Enter a full http:// or https:// address."),
    ),
    (
        re.compile(r"^must be an ISO 8601 date and time with a zone"),
        lambda m: _("Enter a date and time with a zone, e.g. 2022-01-14T10:00:00+03:00."),
    ),
    (re.compile(r"^has no time zone"), lambda m: _("Add a time zone, such as +03:00 or Z.")),
    (
        re.compile(r"^must be in the years (\d+) to (\d+)$"),
        lambda m: _("The date must be in the years %(first)s to %(last)s.", first=m.group(1), last=m.group(2)),
    ),
    (re.compile(r"^must be one of "), lambda m: _("Choose one of the languages.")),
    (
        re.compile(r"^an article with this address already exists$"),
        lambda m: _("An article with this address already exists."),
    ),
    (re.compile(r"^appears twice in this import$"), lambda m: _("This address appears twice in the file.")),
    (re.compile(r"^not valid JSON"), lambda m: _("The file is not valid JSON.")),
    (re.compile(r"^expected a list of articles"), lambda m: _('The file has no list of articles under "articles".')),
    (re.compile(r"^unknown field\(s\): (.*)$"), lambda m: _("Unknown fields: %(names)s.", names=m.group(1))),
    (re.compile(r"^must be a JSON object$"), lambda m: _("Each article must be a JSON object.")),
    (
        re.compile(r"^contains a control character or noncharacter \((U\+[0-9A-F]+)\)"),
        lambda m: _("This contains an invisible control character (%(code)s); please retype it.", code=m.group(1)),
    ),
    (re.compile(r"^must be one line$"), lambda m: _("This must be a single line.")),
    (re.compile(r"^is in the past"), lambda m: _("This time has already passed. Choose a time in the future.")),
    (
        re.compile(r"^(is required: an ISO 8601|not an ISO 8601|not in the years|unknown time zone)"),
        lambda m: _("Enter a date and time, e.g. 2026-12-07 09:00."),
    ),
    (
        re.compile(r"^(must be the id of an article|not articles of this edition)"),
        lambda m: _("Choose articles of this edition's week and language."),
    ),
    (re.compile(r"^names an article twice$"), lambda m: _("An article is named twice.")),
    (re.compile(r"^must be one of worse, better, unchanged"), lambda m: _("Choose a trend mark or none.")),
]


def translated(message: object) -> str:
    text = str(message)
    for pattern, translate in PATTERNS:
        found = pattern.search(text)
        if found:
            return translate(found)
    return text


def translated_all(errors: dict) -> dict[str, str]:
    return {name: translated(message) for name, message in errors.items()}
