"""Ledger references without foreign keys: enqueueing an edition no longer pays a key check per row.

The ledger keeps its references sound itself (see `newsletter.models.delivery.Delivery`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:26:52.640311

"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

REFERENCES = (
    ('fk_deliveries_edition_id_editions', 'editions', 'edition_id', None),
    ('fk_deliveries_subscriber_id_subscribers', 'subscribers', 'subscriber_id', 'SET NULL'),
    ('fk_deliveries_consent_id_consents', 'consents', 'consent_id', 'SET NULL'),
)


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        for name, _table, _column, _on_delete in REFERENCES:
            batch_op.drop_constraint(name, type_='foreignkey')


def downgrade():
    for _name, table, column, on_delete in REFERENCES:
        if on_delete:
            op.execute(f"UPDATE deliveries SET {column} = NULL "
                       f"WHERE {column} IS NOT NULL AND {column} NOT IN (SELECT id FROM {table})")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        for name, table, column, on_delete in REFERENCES:
            batch_op.create_foreign_key(name, table, [column], ['id'], ondelete=on_delete)
