"""Stories: one commentary told in up to three languages, and the editorial decisions made once for all of them.

An article is always in exactly one story (a story of one when nothing links it to a translation). The trend mark,
the section, the position within the section, the lead and whether the story is in the digest are the story's, so
one decision reaches every language's edition; subject, preheader and intro stay on each edition, and an edition
can still leave out one article of its language (`Edition.excluded_article_ids`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from newsletter.models.content import Article

KEY_LIMIT = 200


class Story(Model):
    """`key` is how imports find a story again: an explicit `story` key, a feed's alternates, or the URL with its
    language marker taken out (newsletter.content.stories). None: nothing automatic may join it."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(KEY_LIMIT), unique=True)
    trend: Mapped[str | None] = mapped_column(String(16))
    section: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int | None] = mapped_column()
    lead: Mapped[bool] = mapped_column(default=False)
    included: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="story", order_by="Article.id")

    def article_in(self, language: str) -> Article | None:
        return next((article for article in self.articles if article.language == language), None)


class StoryArticle:
    """Names used by the Article model's story columns (kept here so the story's rules read in one place)."""

    constraint = UniqueConstraint("story_id", "language", name="uq_articles_story_language")
    index = Index("ix_articles_story_id", "story_id")
    foreign_key = ForeignKey("stories.id", name="fk_articles_story_id")
