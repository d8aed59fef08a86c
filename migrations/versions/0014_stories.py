"""Stories: articles that are translations of each other, and editorial decisions made once per story.

Every article becomes a story of its own (story id = article id, no key, so the next import may link it to its
translations by URL): its trend mark moves to the story; each edition's lead article, order (the position in its
edition's list) and exclusions move to the stories of those articles. Since each story holds one article, this
keeps every decision exactly as it was; the edition columns that held them go.

The downgrade puts trends, leads and exclusions back on the articles and editions of the same week and language
(weeks taken as the seven days from the edition's Monday in UTC, close enough for a step back).

Revision ID: 0014_stories
Revises: 0013_mailbox_key
Create Date: 2026-12-08 01:00:00.000000

"""

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

from newsletter.models.types import UTCDateTime

revision = "0014_stories"
down_revision = "0013_mailbox_key"
branch_labels = None
depends_on = None

ARTICLES = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("trend", sa.String),
    sa.column("story_id", sa.Integer),
    sa.column("language", sa.String),
    sa.column("published_at", UTCDateTime),
)
EDITIONS = sa.table(
    "editions",
    sa.column("id", sa.Integer),
    sa.column("week_start", sa.Date),
    sa.column("language", sa.String),
    sa.column("lead_article_id", sa.Integer),
    sa.column("article_order", sa.JSON),
    sa.column("excluded_article_ids", sa.JSON),
)
STORIES = sa.table(
    "stories",
    sa.column("id", sa.Integer),
    sa.column("trend", sa.String),
    sa.column("position", sa.Integer),
    sa.column("lead", sa.Boolean),
    sa.column("included", sa.Boolean),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
)


def upgrade():
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("trend", sa.String(length=16), nullable=True),
        sa.Column("section", sa.String(length=200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("included", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
    _stories_from_articles_and_editions()
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.alter_column("story_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_articles_story_id", "stories", ["story_id"], ["id"])
        batch_op.create_unique_constraint("uq_articles_story_language", ["story_id", "language"])
        batch_op.create_index("ix_articles_story_id", ["story_id"], unique=False)
        batch_op.drop_column("trend")
    # Not a batch (a copy of the table): on SQLite the ledger's foreign key to editions forbids dropping it.
    op.drop_column("editions", "lead_article_id")
    op.drop_column("editions", "article_order")


def _stories_from_articles_and_editions() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    articles = connection.execute(sa.select(ARTICLES.c.id, ARTICLES.c.trend)).all()
    decisions = {row.id: {"trend": row.trend, "position": None, "lead": False, "included": True} for row in articles}
    for edition in connection.execute(sa.select(EDITIONS)).all():
        for index, article_id in enumerate(edition.article_order or ()):
            if article_id in decisions:
                decisions[article_id]["position"] = index
        if edition.lead_article_id in decisions:
            decisions[edition.lead_article_id]["lead"] = True
        for article_id in edition.excluded_article_ids or ():
            if article_id in decisions:
                decisions[article_id]["included"] = False
    rows = [{"id": i, **values, "created_at": now, "updated_at": now} for i, values in decisions.items()]
    for start in range(0, len(rows), 1000):
        connection.execute(STORIES.insert(), rows[start : start + 1000])
    connection.execute(ARTICLES.update().values(story_id=ARTICLES.c.id))
    connection.execute(EDITIONS.update().values(excluded_article_ids=None))
    if connection.dialect.name == "postgresql" and rows:
        connection.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('stories', 'id'), (SELECT max(id) FROM stories))")
        )


def downgrade():
    op.add_column("editions", sa.Column("lead_article_id", sa.Integer(), nullable=True))
    op.add_column("editions", sa.Column("article_order", sa.JSON(), nullable=True))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trend", sa.String(length=16), nullable=True))
    _decisions_back_to_articles_and_editions()
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_story_id")
        batch_op.drop_constraint("uq_articles_story_language", type_="unique")
        batch_op.drop_constraint("fk_articles_story_id", type_="foreignkey")
        batch_op.drop_column("story_id")
    op.drop_table("stories")


def _decisions_back_to_articles_and_editions() -> None:
    connection = op.get_bind()
    stories = {row.id: row for row in connection.execute(sa.select(STORIES)).all()}
    articles = connection.execute(sa.select(ARTICLES)).all()
    for article in articles:
        if stories[article.story_id].trend:
            connection.execute(
                ARTICLES.update().where(ARTICLES.c.id == article.id).values(trend=stories[article.story_id].trend)
            )
    for edition in connection.execute(sa.select(EDITIONS)).all():
        start = datetime.combine(edition.week_start, time(), UTC)
        mine = [
            a for a in articles if a.language == edition.language and start <= a.published_at < start + timedelta(7)
        ]
        positioned = sorted(
            (stories[a.story_id].position, a.id) for a in mine if stories[a.story_id].position is not None
        )
        lead = next((a.id for a in mine if stories[a.story_id].lead), None)
        excluded = sorted(a.id for a in mine if not stories[a.story_id].included)
        connection.execute(
            EDITIONS.update()
            .where(EDITIONS.c.id == edition.id)
            .values(
                lead_article_id=lead,
                article_order=[i for _p, i in positioned] or None,
                excluded_article_ids=sorted(set(edition.excluded_article_ids or ()) | set(excluded)) or None,
            )
        )
