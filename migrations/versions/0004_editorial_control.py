"""Editorial control: overrides, trend marks, guids, sections, archive contents, per-language scheduler outcomes.

Edition and delivery states keep their string values, so no state data changes; every new column is
nullable or a new table, so existing rows stay as they are (no override, no trend, no guid). Existing
articles' URLs are normalised as new ones are (newsletter.content.article_urls), unless that would give two articles
one address: then the later one keeps its URL as it was, and nothing is lost.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01 21:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

from newsletter.content.article_urls import normalise_url
from newsletter.models.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trend", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("guid", sa.String(length=2000), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_guid"), ["guid"], unique=False)
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_override", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("preheader", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("intro", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("lead_article_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("article_order", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("excluded_article_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("contents", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("unpublished_at", UTCDateTime(), nullable=True))
    _normalise_article_urls()
    op.create_table(
        "sections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_be", sa.String(length=200), nullable=True),
        sa.Column("name_ru", sa.String(length=200), nullable=True),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sections")),
        sa.UniqueConstraint("key", name=op.f("uq_sections_key")),
    )
    op.create_table(
        "scheduler_run_languages",
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["due_at"],
            ["scheduler_runs.due_at"],
            ondelete="CASCADE",
            name=op.f("fk_scheduler_run_languages_due_at_scheduler_runs"),
        ),
        sa.PrimaryKeyConstraint("due_at", "language", name=op.f("pk_scheduler_run_languages")),
    )


def _normalise_article_urls():
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, url FROM articles ORDER BY id")).all()
    taken = {url for _id, url in rows}
    for article_id, url in rows:
        try:
            normalised = normalise_url(url)
        except ValueError:
            continue
        if normalised == url or normalised in taken:
            continue
        connection.execute(
            sa.text("UPDATE articles SET url = :url WHERE id = :id"), {"url": normalised, "id": article_id}
        )
        taken.discard(url)
        taken.add(normalised)


def downgrade():
    op.drop_table("scheduler_run_languages")
    op.drop_table("sections")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        for name in (
            "unpublished_at",
            "contents",
            "excluded_article_ids",
            "article_order",
            "lead_article_id",
            "intro",
            "preheader",
            "subject_override",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_guid"))
        batch_op.drop_column("guid")
        batch_op.drop_column("trend")
