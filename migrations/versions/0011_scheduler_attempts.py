"""Scheduler attempts: every scheduler process's try at a weekly run gets a row of its own.

With two schedulers running, the loser used to overwrite the run's outcome (and each language's) with
"already sent by another run"; now each try is kept in `scheduler_attempts`, and a language's settled
outcome is never replaced.

Revision ID: 0011_scheduler_attempts
Revises: 0009_bounce_meaning
Create Date: 2026-12-08 01:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

import newsletter.models.types

revision = "0011_scheduler_attempts"
down_revision = "0009_bounce_meaning"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scheduler_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("due_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("started_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["due_at"],
            ["scheduler_runs.due_at"],
            name=op.f("fk_scheduler_attempts_due_at_scheduler_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_attempts")),
    )
    op.create_index(op.f("ix_scheduler_attempts_due_at"), "scheduler_attempts", ["due_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_scheduler_attempts_due_at"), table_name="scheduler_attempts")
    op.drop_table("scheduler_attempts")
