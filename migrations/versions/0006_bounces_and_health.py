"""Bounces and health: bounce and complaint events, suppressions with cause and delivery, process heartbeats.

The suppression list moves from the address as primary key to an id, so an erased person's entry can keep
only a keyed hash of the address. Existing entries (all from 5xx "no such user" replies) keep their address,
reason and time, with the cause `rejected`.

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01 21:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import newsletter.models.types

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def _suppressions_table(name):
    return op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("created_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.UniqueConstraint("email", name="uq_suppressions_email"),
        sa.UniqueConstraint("email_hash", name="uq_suppressions_email_hash"),
    )


def upgrade():
    op.create_table(
        "bounce_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("received_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_events")),
        sa.UniqueConstraint("report_key", name=op.f("uq_bounce_events_report_key")),
    )
    op.create_index("ix_bounce_events_edition_kind", "bounce_events", ["edition_id", "kind"], unique=False)
    op.create_index(
        "ix_bounce_events_subscriber_kind", "bounce_events", ["subscriber_id", "kind", "received_at"], unique=False
    )
    op.create_table(
        "heartbeats",
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("beat_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_heartbeats")),
    )
    op.create_index(op.f("ix_heartbeats_role"), "heartbeats", ["role"], unique=False)
    op.rename_table("suppressions", "suppressions_0002")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE suppressions_0002 RENAME CONSTRAINT pk_suppressions TO pk_suppressions_0002")
    _suppressions_table("suppressions")
    op.execute(
        "INSERT INTO suppressions (email, cause, reason, created_at) "
        "SELECT email, 'rejected', reason, created_at FROM suppressions_0002 ORDER BY created_at"
    )
    op.drop_table("suppressions_0002")


def downgrade():
    # Entries of erased people (hash only) cannot go back to an address-keyed list; they are dropped.
    op.rename_table("suppressions", "suppressions_0006")
    if op.get_bind().dialect.name == "postgresql":
        for old in ("pk_suppressions", "uq_suppressions_email", "uq_suppressions_email_hash"):
            op.execute(f"ALTER TABLE suppressions_0006 RENAME CONSTRAINT {old} TO {old}_0006")
    op.create_table(
        "suppressions",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_suppressions"),
    )
    op.execute(
        "INSERT INTO suppressions (email, reason, created_at) "
        "SELECT email, reason, created_at FROM suppressions_0006 WHERE email IS NOT NULL"
    )
    op.drop_table("suppressions_0006")
    op.drop_index(op.f("ix_heartbeats_role"), table_name="heartbeats")
    op.drop_table("heartbeats")
    op.drop_index("ix_bounce_events_subscriber_kind", table_name="bounce_events")
    op.drop_index("ix_bounce_events_edition_kind", table_name="bounce_events")
    op.drop_table("bounce_events")
