"""Which characters stored text may hold: no control characters but tab/LF/CR, no noncharacters, no lone surrogates.

One pasted U+000B from a word processor makes MRML refuse the whole digest, so such text is refused at the
door (API, imports) or stripped (feeds, which the publication does not control and are re-read every week).
"""

from __future__ import annotations

import re

ALLOWED_CONTROLS = "\t\n\r"
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 and C1 controls other than tab, LF, CR; DEL
    "\ud800-\udfff"  # lone surrogates (a str can hold them, UTF-8 cannot)
    "\ufdd0-\ufdef"  # the noncharacter block
    "\ufffe\uffff"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17))
    + "]"
)


def first_forbidden(value: str) -> str | None:
    """The first forbidden character as U+XXXX, or None when the text is clean."""
    match = _FORBIDDEN.search(value)
    return f"U+{ord(match.group()):04X}" if match else None


def forbidden_message(value: str) -> str | None:
    """The per-field error for text holding a forbidden character, or None."""
    found = first_forbidden(value)
    return f"contains a control character or noncharacter ({found})" if found else None


def strip_forbidden(value: str) -> str:
    """The text without forbidden characters (vertical tab and form feed become a space)."""
    return _FORBIDDEN.sub("", value.replace("\x0b", " ").replace("\x0c", " "))


def text_problem(value: str, limit: int) -> str | None:
    """The one rule for stored text fields: at most `limit` characters, none of the forbidden ones."""
    if len(value) > limit:
        return f"is longer than {limit} characters"
    return forbidden_message(value)


BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Embeddings, overrides and isolates: one U+202E in a title reverses the text after it wherever it is shown."""


def bidi_problem(value: str) -> str | None:
    """The per-field error for one-line text (titles, subjects, section names) holding a bidi control, or None."""
    match = BIDI_CONTROLS.search(value)
    return f"contains a bidirectional control character (U+{ord(match.group()):04X})" if match else None


def strip_bidi(value: str) -> str:
    return BIDI_CONTROLS.sub("", value)
