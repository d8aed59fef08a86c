"""Topic sections as data: an editor-defined order and a name per language.

An article names its section in free text, in its own language. A section is found by its name (`key`,
compared case-folded with spaces collapsed) or by any of its per-language names, so "Economy", "economy " and
"Экономика" can all be one section; sections nobody defined follow the defined ones, grouped the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from newsletter.core.characters import bidi_problem, text_problem
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.models.content import Section

NAME_LIMIT = 200


class SectionsInvalid(ValueError):
    """A section list that cannot be stored, field -> message (HTTP 422, a CLI error)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def section_key(name: str) -> str:
    """How free-text section names are compared: case-folded, spaces collapsed."""
    return " ".join(name.split()).casefold()


def list_sections() -> list[Section]:
    return list(db.session.scalars(select(Section).order_by(Section.position, Section.id)))


def sections_by_name() -> dict[str, Section]:
    """Every key and per-language name of every defined section -> the section (the first defined wins)."""
    found: dict[str, Section] = {}
    for section in list_sections():
        for name in [section.key] + [getattr(section, f"name_{code}") or "" for code in LANGUAGES]:
            if name.strip():
                found.setdefault(section_key(name), section)
    return found


def _name(where: str, value: object, errors: dict[str, str], required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[where] = "is required"
        return None
    if not isinstance(value, str):
        errors[where] = "must be a string"
        return None
    value = " ".join(value.split())
    problem = text_problem(value, NAME_LIMIT) or bidi_problem(value)
    if problem:
        errors[where] = problem
    return value


def _validated(items: object) -> list[dict[str, object]]:
    if not isinstance(items, list):
        raise SectionsInvalid({"sections": 'must be a list of {"name": ..., "names": {"be": ..., ...}}'})
    errors: dict[str, str] = {}
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"sections[{index}]"] = "must be an object"
            continue
        name = _name(f"sections[{index}].name", item.get("name"), errors, required=True)
        names = item.get("names")
        names = {} if names is None else names
        if not isinstance(names, dict) or set(names) - set(LANGUAGES):
            errors[f"sections[{index}].names"] = f"must map {', '.join(LANGUAGES)} to names"
            names = {}
        row: dict[str, object] = {"key": name or "", "position": index}
        row |= {f"name_{code}": _name(f"sections[{index}].names.{code}", names.get(code), errors) for code in LANGUAGES}
        if name and section_key(name) in seen:
            errors[f"sections[{index}].name"] = "names a section twice (case and spaces do not count)"
        seen.add(section_key(name or ""))
        rows.append(row)
    if errors:
        raise SectionsInvalid(errors)
    return rows


def replace_sections(items: object) -> list[Section]:
    """Store the editor's sections in this order, replacing the previous list (all or nothing).

    `items`: [{"name": "Economy", "names": {"be": "Эканоміка", "ru": "Экономика", "en": "Economy"}}, ...].
    """
    rows = _validated(items)
    db.session.execute(delete(Section))
    db.session.add_all(Section(**row) for row in rows)
    db.session.commit()
    return list_sections()


def section_json(section: Section) -> dict[str, Any]:
    return {
        "name": section.key,
        "position": section.position,
        "names": {code: getattr(section, f"name_{code}") for code in LANGUAGES},
    }


def learn_from_stories(stories: list[Any]) -> int:
    """Define the sections the stories' articles name, each with its name in every language it was seen in.

    A section already defined under any of a story's names gets the names it lacks (an editor's names are
    never replaced); a story whose names match none is a new section after the others. The caller commits.
    Returns how many sections were created.
    """
    defined = sections_by_name()
    position = max((s.position for s in defined.values()), default=-1) + 1
    created = 0
    for story in stories:
        names = {a.language: " ".join(a.section.split()) for a in story.articles if a.section and a.section.strip()}
        if not names:
            continue
        section = next((defined[section_key(n)] for n in names.values() if section_key(n) in defined), None)
        if section is None:
            key = names.get("en") or next(iter(names.values()))
            section = Section(key=key[:NAME_LIMIT], position=position)
            db.session.add(section)
            position, created = position + 1, created + 1
        for code, name in names.items():
            if not getattr(section, f"name_{code}"):
                setattr(section, f"name_{code}", name[:NAME_LIMIT])
        for name in [section.key, *names.values()]:
            defined.setdefault(section_key(name), section)
    return created
