"""Text from outside, made safe to store or refused: control characters, surrogates, noncharacters.

Two rules, one place. Recorded request fields (the page a visitor subscribed on, User-Agent, Referer)
are evidence, not input to act on: they are cleaned and truncated (`recorded_text`), so whatever a
client sends, every address state gets the same answer and nothing reaches the database that the
database would refuse. JSON bodies, which carry what the caller asks for, are refused instead when a
string holds a surrogate or a noncharacter (`first_unusable_text`): no database can store them.
"""

from __future__ import annotations

import unicodedata

MAX_PAGE_LENGTH = 500
"""Characters of the subscribing page's URL kept in a consent record (the column's size)."""
MAX_USER_AGENT_LENGTH = 512
"""Characters of a User-Agent kept in a consent record."""


def is_unusable(character: str) -> bool:
    """A surrogate (only ever half of a character) or a Unicode noncharacter."""
    code = ord(character)
    return 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def recorded_text(raw: object, limit: int) -> str | None:
    """`raw` without control characters, surrogates or noncharacters, cut to `limit`; None when nothing is left."""
    if not isinstance(raw, str):
        return None
    kept = "".join(
        character
        for character in raw
        if not is_unusable(character) and unicodedata.category(character) not in ("Cc", "Cf")
    )
    kept = kept.strip()[:limit]
    return kept or None


def first_unusable_text(value: object) -> str | None:
    """The path (`page`, `articles[2].title`) of the first string, key or value, that cannot be stored.

    Walked with a stack, not recursion: a body nested as deep as the JSON parser allows is fine.
    """
    pending: list[tuple[str, object]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str) and any(is_unusable(character) for character in item):
            return path or "body"
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if any(is_unusable(character) for character in key):
                    return path or "body"
                pending.append((f"{path}.{key}" if path else key, child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))
    return None
