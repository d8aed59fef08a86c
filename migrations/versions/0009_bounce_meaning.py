"""Bounce events say why: the reason-table entry that decided the kind, and the reader's mail domain.

Reports about us (blocks, policy, authentication) are counted per edition and per receiving domain; the
kinds `about_us`, `unsubscribe` and `ignored` fit the existing column.

Revision ID: 0009_bounce_meaning
Revises: 0008
Create Date: 2026-12-08 01:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_bounce_meaning"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bounce_events") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("receiving_domain", sa.String(length=255), nullable=True))
    op.create_index("ix_bounce_events_kind_received", "bounce_events", ["kind", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_bounce_events_kind_received", table_name="bounce_events")
    with op.batch_alter_table("bounce_events") as batch:
        batch.drop_column("receiving_domain")
        batch.drop_column("reason")
