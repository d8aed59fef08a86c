"""Console: editor logins (email, role, Argon2 password hash, TOTP, recovery codes, language) and the activity log.

Existing editors keep their API tokens and get the editor role and no password: they sign in to the
console once an admin runs `newsletter editors set-password`.

Revision ID: 0007
Revises: 0002 (temporarily 0004 and 0005 in this branch, see down_revision)
Create Date: 2026-12-01 21:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import newsletter.models.types

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("role", sa.String(length=16), server_default="editor", nullable=False))
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recovery_codes", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("console_language", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_editors_email"), ["email"])
    op.create_table(
        "activity_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["editors.id"], name=op.f("fk_activity_log_editor_id_editors"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_log")),
    )
    op.create_index("ix_activity_log_at", "activity_log", ["at"], unique=False)


def downgrade():
    op.drop_index("ix_activity_log_at", table_name="activity_log")
    op.drop_table("activity_log")
    with op.batch_alter_table("editors", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_editors_email"), type_="unique")
        for column in (
            "session_epoch",
            "console_language",
            "recovery_codes",
            "totp_last_step",
            "totp_secret",
            "password_hash",
            "role",
            "email",
        ):
            batch_op.drop_column(column)
