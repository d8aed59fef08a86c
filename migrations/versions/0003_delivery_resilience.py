"""Delivery resilience: when a delivery was first deferred (retry age counts from there, pauses excluded), and
when and why an edition was paused (the circuit breaker gives its reason), the counts an edition keeps when the
retention policy removes its per-recipient rows, and claim indexes that stay O(batch) at any ledger size.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

from newsletter.models.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_deferred_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_deliveries_claim")
        batch_op.create_index(
            "ix_deliveries_due",
            ["priority", "next_attempt_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )
        batch_op.create_index(
            "ix_deliveries_leased",
            ["lease_expires_at"],
            unique=False,
            postgresql_where=sa.text("status = 'sending'"),
            sqlite_where=sa.text("status = 'sending'"),
        )
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("archived_counts", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("archived_counts")
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("paused_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_leased")
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index("ix_deliveries_claim", ["status", "priority", "id"], unique=False)
        batch_op.drop_column("first_deferred_at")
