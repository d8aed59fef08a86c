"""The editor's shaping of one edition: subject, preheader, intro, lead article, order and exclusions.

Subject, preheader, intro and exclusions are this edition's own; the lead article and the order are its articles'
stories' (newsletter.content.stories), so setting them here sets them for every language of the week.

One service for the API, the CLI and the web console. A change is validated as a whole and applied in one
conditional UPDATE (only while the lifecycle allows editing), so nothing is half-applied; the edition then
shows as stale until it is rebuilt, which preview, test send and send do by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from newsletter.content import stories
from newsletter.core.characters import bidi_problem, text_problem
from newsletter.core.database import affected_rows
from newsletter.core.extensions import db
from newsletter.editions.plan import week_articles
from newsletter.models import Edition
from newsletter.models.lifecycle import Action, EditionConflict, condition, status_of

LIMITS = {"subject": 200, "preheader": 200, "intro": 5000}
FIELDS = ("subject", "preheader", "intro", "lead_article_id", "article_ids", "excluded_article_ids")
COLUMNS = {"subject": "subject_override", "preheader": "preheader", "intro": "intro"}
STORY_CHANGES = ("lead_article_id", "article_ids")
"""Values validate_changes returns that are decisions about stories, not edition columns."""


class EditionInvalid(ValueError):
    """Input about an edition that cannot be used, field -> message (HTTP 422, a CLI error)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class WeekArticles:
    """The ids of the articles an edition may name: those of its own week and language."""

    ids: frozenset[int]

    def check(self, name: str, value: object, errors: dict[str, str]) -> list[int] | None:
        if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
            errors[name] = "must be a list of article ids"
            return None
        strangers = [i for i in value if i not in self.ids]
        if strangers:
            errors[name] = f"not articles of this edition's week and language: {', '.join(map(str, strangers))}"
        elif len(set(value)) != len(value):
            errors[name] = "names an article twice"
        return value


def _text(name: str, value: object, errors: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string or null"
        return None
    value = value.strip() if name != "intro" else value.strip("\n ").replace("\r\n", "\n")
    problem = text_problem(value, LIMITS[name])
    if problem:
        errors[name] = problem
    elif name != "intro" and "\n" in value:
        errors[name] = "must be one line"
    elif name != "intro" and (bidi := bidi_problem(value)):
        errors[name] = bidi
    return value or None


def _lead(value: object, week: WeekArticles, errors: dict[str, str]) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value not in week.ids:
        errors["lead_article_id"] = "must be the id of an article of this edition's week and language, or null"
        return None
    return value


def validate_changes(edition: Edition, changes: object) -> dict[str, object]:
    """Column values for the given fields, or EditionInvalid listing every problem."""
    if not isinstance(changes, dict) or not changes:
        raise EditionInvalid({"edition": f"send a JSON object with any of {', '.join(FIELDS[:5])}"})
    errors: dict[str, str] = {}
    unknown = sorted(map(str, set(changes) - set(FIELDS)))
    if unknown:
        errors["fields"] = f"unknown field(s): {', '.join(unknown)}"
    week = WeekArticles(frozenset(a.id for a in week_articles(edition.week_start, edition.language)))
    values: dict[str, object] = {}
    for name in ("subject", "preheader", "intro"):
        if name in changes:
            values[COLUMNS[name]] = _text(name, changes[name], errors)
    if "lead_article_id" in changes:
        values["lead_article_id"] = _lead(changes["lead_article_id"], week, errors)
    if "article_ids" in changes:
        order = week.check("article_ids", changes["article_ids"], errors)
        values["article_ids"] = order
        if order is not None and "excluded_article_ids" not in changes:
            values["excluded_article_ids"] = sorted(week.ids - set(order))
    if "excluded_article_ids" in changes:
        values["excluded_article_ids"] = week.check("excluded_article_ids", changes["excluded_article_ids"], errors)
    if errors:
        raise EditionInvalid(errors)
    return values


def update_editorial(edition: Edition, changes: object) -> Edition:
    """Apply any of subject, preheader, intro, lead_article_id, article_ids (the ordered list of included
    articles; the week's others become excluded) and excluded_article_ids; all or nothing.

    Raises EditionInvalid (422) or EditionConflict (409: the edition is no longer a draft or scheduled).
    """
    values = validate_changes(edition, changes)
    decisions = {name: values.pop(name) for name in STORY_CHANGES if name in values}
    moved = affected_rows(
        db.session.execute(
            update(Edition)
            .where(Edition.id == edition.id, condition(Action.EDIT))
            .values(**values, built_at=edition.built_at)  # at least one column, when only stories change
            .execution_options(synchronize_session=False)
        )
    )
    if not moved:
        status = status_of(edition.id)
        db.session.rollback()
        raise EditionConflict(edition.id, status, "edit")
    _apply_story_decisions(edition, decisions)
    db.session.commit()
    db.session.refresh(edition)
    return edition


def _apply_story_decisions(edition: Edition, decisions: dict[str, Any]) -> None:
    articles = {a.id: a for a in week_articles(edition.week_start, edition.language)}
    if "lead_article_id" in decisions:
        lead = decisions["lead_article_id"]
        stories.set_week_lead(edition.week_start, articles[lead] if lead is not None else None)
    if decisions.get("article_ids") is not None:
        stories.set_order([articles[i] for i in decisions["article_ids"]])


def set_subject(edition: Edition, subject: str | None) -> Edition:
    return update_editorial(edition, {"subject": subject})


def set_preheader(edition: Edition, preheader: str | None) -> Edition:
    return update_editorial(edition, {"preheader": preheader})


def set_intro(edition: Edition, intro: str | None) -> Edition:
    return update_editorial(edition, {"intro": intro})


def set_lead_article(edition: Edition, article_id: int | None) -> Edition:
    return update_editorial(edition, {"lead_article_id": article_id})


def set_order(edition: Edition, article_ids: list[int]) -> Edition:
    """The included articles in reading order; the week's other articles are excluded."""
    return update_editorial(edition, {"article_ids": article_ids})


def exclude_article(edition: Edition, article_id: int) -> Edition:
    """Leave one article out of this language's edition only (the story stays in the others)."""
    excluded = sorted(set(edition.excluded_article_ids or ()) | {article_id})
    return update_editorial(edition, {"excluded_article_ids": excluded})


def include_article(edition: Edition, article_id: int) -> Edition:
    """Take an article back into this language's edition."""
    excluded = sorted(set(edition.excluded_article_ids or ()) - {article_id})
    return update_editorial(edition, {"excluded_article_ids": excluded})


def editorial_json(edition: Edition) -> dict[str, Any]:
    """The edition's own overrides, and the lead and order its articles' stories give it."""
    articles = week_articles(edition.week_start, edition.language)
    excluded = set(edition.excluded_article_ids or ())
    positioned = [a for a in articles if a.story.position is not None and a.story.included and a.id not in excluded]
    return {
        "subject_override": edition.subject_override,
        "preheader": edition.preheader,
        "intro": edition.intro,
        "lead_article_id": next((a.id for a in articles if a.story.lead), None),
        "article_ids": [a.id for a in sorted(positioned, key=lambda a: a.story.position or 0)] or None,
        "excluded_article_ids": edition.excluded_article_ids or [],
    }
