"""Delivery resilience: when a delivery was first deferred (retry age counts from there, pauses excluded), and
when and why an edition was paused (the circuit breaker gives its reason).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

from newsletter.models.types import UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_deferred_at', UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paused_reason', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_column('paused_reason')
        batch_op.drop_column('paused_at')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('first_deferred_at')
