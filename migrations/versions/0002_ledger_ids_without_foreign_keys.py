"""Ledger: edition and subscriber ids without foreign keys.

Enqueueing an edition no longer pays two key checks per row; the ledger keeps these references sound itself
(see `newsletter.models.delivery.Delivery`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:42:11.227000

"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_subscriber_id_subscribers", type_="foreignkey")
        batch_op.drop_constraint("fk_deliveries_edition_id_editions", type_="foreignkey")


def downgrade():
    # Rows the keys would refuse: an edition that is gone cannot be sent; a subscriber that is gone is forgotten.
    op.execute("DELETE FROM deliveries WHERE edition_id IS NOT NULL AND edition_id NOT IN (SELECT id FROM editions)")
    op.execute(
        "UPDATE deliveries SET subscriber_id = NULL, consent_id = NULL, payload = NULL, last_reply = NULL "
        "WHERE subscriber_id IS NOT NULL AND subscriber_id NOT IN (SELECT id FROM subscribers)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_deliveries_edition_id_editions", "editions", ["edition_id"], ["id"])
        batch_op.create_foreign_key(
            "fk_deliveries_subscriber_id_subscribers", "subscribers", ["subscriber_id"], ["id"], ondelete="SET NULL"
        )
