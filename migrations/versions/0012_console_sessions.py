"""Console sessions kept on the server, and per-account sign-in throttling.

`console_sessions` holds one row per signed-in console session (the cookie carries a random id; only its
sha256 is stored), so signing out, a password or 2FA change and an admin's "sign out everywhere" end a
session at once. `editors` gains the throttle's state: failures since the last sign-in, the lock's end,
and wrong codes since the last right password. Existing cookie sessions end: everyone signs in again.
`deliveries.recipient` lets the ledger carry a message to someone who is not a subscriber (the notice to an
editor whose account was locked), sent like every transactional message.

Revision ID: 0012_console_sessions
Revises: 0011_scheduler_attempts
Create Date: 2026-12-08 01:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import newsletter.models.types

revision = "0012_console_sessions"
down_revision = "0011_scheduler_attempts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["editors.id"], name=op.f("fk_console_sessions_editor_id_editors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_console_sessions_key_hash")),
    )
    op.create_index("ix_console_sessions_editor_id", "console_sessions", ["editor_id"], unique=False)
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("locked_until", newsletter.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("code_tries", sa.Integer(), server_default="0", nullable=False))
    op.add_column("deliveries", sa.Column("recipient", sa.String(length=320), nullable=True))


def downgrade():
    op.drop_column("deliveries", "recipient")
    with op.batch_alter_table("editors", schema=None) as batch_op:
        for column in ("code_tries", "locked_until", "failed_sign_ins"):
            batch_op.drop_column(column)
    op.drop_index("ix_console_sessions_editor_id", table_name="console_sessions")
    op.drop_table("console_sessions")
