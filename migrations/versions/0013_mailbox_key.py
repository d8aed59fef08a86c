"""Mailbox windows: when each mailbox last got a request email, under a keyed hash of its mailbox key.

The confirmation resend window counts per mailbox (plus-tags dropped; Gmail dots and googlemail.com
folded), not per spelling. The table holds no address; it starts empty, and until a mailbox gets its
first row each subscriber's own `request_mail_queued_at` still holds its window.

Revision ID: 0013_mailbox_key
Revises: 0012_console_sessions
Create Date: 2026-12-08 01:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

import newsletter.models.types

revision = "0013_mailbox_key"
down_revision = "0012_console_sessions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mailbox_mail",
        sa.Column("mailbox_digest", sa.String(length=32), nullable=False),
        sa.Column("last_mail_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_digest", name=op.f("pk_mailbox_mail")),
    )
    op.create_index(op.f("ix_mailbox_mail_last_mail_at"), "mailbox_mail", ["last_mail_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_mailbox_mail_last_mail_at"), table_name="mailbox_mail")
    op.drop_table("mailbox_mail")
