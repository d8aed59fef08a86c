"""What is sent: articles and the weekly per-language editions built from them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.core.extensions import Model
from newsletter.models.stories import Story, StoryArticle
from newsletter.models.types import UTCDateTime, utcnow


class EditionStatus(StrEnum):
    """Where an edition is in its life; which transitions are allowed is the lifecycle table's business."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class Trend(StrEnum):
    """The mark the publication puts on a commentary: the situation got worse, better, or did not change."""

    WORSE = "worse"
    BETTER = "better"
    UNCHANGED = "unchanged"


class Article(Model):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(2))
    section: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str | None] = mapped_column(String(200))
    # The story this article tells in its language (at most one article per language and story).
    story_id: Mapped[int] = mapped_column(StoryArticle.foreign_key)
    guid: Mapped[str | None] = mapped_column(String(2000), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    story: Mapped[Story] = relationship(back_populates="articles", lazy="joined")

    __table_args__ = (
        Index("ix_articles_language_published_at", "language", "published_at"),
        StoryArticle.constraint,
        StoryArticle.index,
    )

    @property
    def trend(self) -> str | None:
        """The trend mark is the story's: one decision for every language."""
        return self.story.trend if self.story is not None else None


class Edition(Model):
    """One week's digest in one language, rendered once and stored."""

    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), default=EditionStatus.DRAFT)
    subject: Mapped[str] = mapped_column(String(500), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    source_hash: Mapped[str] = mapped_column(String(64), default="")
    article_count: Mapped[int] = mapped_column(default=0)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_reason: Mapped[str | None] = mapped_column(String(500))
    archived_counts: Mapped[str | None] = mapped_column(Text)
    # The editor's shaping of this edition (None: the defaults); see newsletter.editions.editorial.
    subject_override: Mapped[str | None] = mapped_column(String(200))
    preheader: Mapped[str | None] = mapped_column(String(200))
    intro: Mapped[str | None] = mapped_column(Text)
    # Articles of this language left out of this edition only (order, lead and trend are the stories').
    excluded_article_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # What was rendered, for the archive page (titles, sections, intro), and when it was taken off the archive.
    contents: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    unpublished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("week_start", "language"),)


class Section(Model):
    """A topic section as data: an editor-defined order and a name per language.

    Articles name their section in free text; `key` (the section's name, compared case-folded with spaces
    collapsed, see newsletter.content.sections) or a per-language name is how an article finds its section, so
    "Economy" and "economy " are one section.
    """

    __tablename__ = "sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    name_be: Mapped[str | None] = mapped_column(String(200))
    name_ru: Mapped[str | None] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))


class SchedulerRun(Model):
    """One weekly run of the scheduler, keyed by the time it was due (so a restart notices a missed run)."""

    __tablename__ = "scheduler_runs"

    due_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(Text, default="")


class SchedulerAttempt(Model):
    """One scheduler process's try at a weekly run, kept whatever happened: with two schedulers both tries are
    recorded, and the loser's ("already sent by another run") never replaces the winner's outcome."""

    __tablename__ = "scheduler_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(
        UTCDateTime, ForeignKey("scheduler_runs.due_at", ondelete="CASCADE"), index=True
    )
    process: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(Text, default="")


class SchedulerRunLanguage(Model):
    """One language's outcome in a scheduler run: a failed language is retried on the next check."""

    __tablename__ = "scheduler_run_languages"

    due_at: Mapped[datetime] = mapped_column(
        UTCDateTime, ForeignKey("scheduler_runs.due_at", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    ok: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
