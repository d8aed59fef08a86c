"""Sending a week: every language whose edition is ready, in one call, with each language's count or reason.

A language is sent when its edition can be built and its state allows a send; the others say why not (no
articles that week, a build failure, already sending or sent). Per-language sending stays (control.send_edition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from newsletter.content.stories import story_json, week_stories
from newsletter.core.config import LANGUAGES
from newsletter.core.extensions import db
from newsletter.editions.building import BuildFailed, build_week_report
from newsletter.editions.control import send_edition
from newsletter.models.lifecycle import EditionConflict


@dataclass
class LanguageSend:
    language: str
    edition_id: int | None = None
    queued: int | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"language": self.language, "edition_id": self.edition_id, "queued": self.queued, "reason": self.reason}


@dataclass
class WeekSend:
    week_start: date
    languages: list[LanguageSend] = field(default_factory=list)
    missing: dict[str, list[int]] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return sum(entry.queued or 0 for entry in self.languages)

    def as_json(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start.isoformat(),
            "languages": [entry.as_json() for entry in self.languages],
            "queued": self.queued,
            "missing_translations": self.missing,
        }


def missing_translations(week_start: date) -> dict[str, list[int]]:
    """Language -> the week's included stories without an article in it (the editor is warned)."""
    missing: dict[str, list[int]] = {}
    for story in week_stories(week_start):
        if story.included:
            for code in story_json(story)["missing"]:
                missing.setdefault(code, []).append(story.id)
    return missing


def send_week(week_start: date) -> WeekSend:
    """Build the week and send every language that is ready; one language's refusal never stops the others."""
    result = WeekSend(week_start, missing=missing_translations(week_start))
    built = build_week_report(week_start)
    editions = {edition.language: edition for edition in built.editions}
    for language in LANGUAGES:
        entry = LanguageSend(language)
        result.languages.append(entry)
        if language in built.failures:
            entry.reason = str(built.failures[language])
            continue
        edition = editions.get(language)
        if edition is None:
            entry.reason = f"no {language} articles that week"
            continue
        entry.edition_id = edition.id
        try:
            entry.queued = send_edition(edition)
        except (EditionConflict, BuildFailed) as refused:
            db.session.rollback()
            entry.reason = str(refused)
    return result
