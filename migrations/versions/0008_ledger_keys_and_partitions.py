"""Ledger: edition and subscriber ids are foreign keys again; on PostgreSQL the ledger is partitioned by id.

The keys were dropped in 0002 because a key check per row doubled the time to enqueue a large edition. On
PostgreSQL `deliveries` becomes a table partitioned by ranges of id: each edition's rows are loaded into a
table of their own and attached, which checks the keys once per edition (`newsletter.delivery.partitions`).
Existing rows keep their ids, below 2**32, and move to the partition `deliveries_single`, where rows
inserted one at a time (transactional mail) go. Delivery ids in suppressions and bounce events become 64-bit.

Rows the keys would refuse are mended first: an edition that is gone cannot be sent (its rows go), a
subscriber who is gone is forgotten (its rows keep no reference, message or reply).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 14:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

import newsletter.models.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SPAN = 1 << 32
COLUMNS = (
    "id, kind, priority, edition_id, subscriber_id, consent_id, payload, status, attempts, next_attempt_at, "
    "lease_expires_at, claimed_by, last_reply, sent_at, first_deferred_at, created_at"
)
INDEXES = ("ix_deliveries_due", "ix_deliveries_leased", "ix_deliveries_edition_status")


def upgrade():
    op.execute("DELETE FROM deliveries WHERE edition_id IS NOT NULL AND edition_id NOT IN (SELECT id FROM editions)")
    op.execute(
        "UPDATE deliveries SET subscriber_id = NULL, consent_id = NULL, payload = NULL, last_reply = NULL "
        "WHERE subscriber_id IS NOT NULL AND subscriber_id NOT IN (SELECT id FROM subscribers)"
    )
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("deliveries", schema=None) as batch_op:
            batch_op.create_foreign_key("fk_deliveries_edition_id_editions", "editions", ["edition_id"], ["id"])
            batch_op.create_foreign_key(
                "fk_deliveries_subscriber_id_subscribers", "subscribers", ["subscriber_id"], ["id"], ondelete="SET NULL"
            )
        return
    for table in ("suppressions", "bounce_events"):
        op.alter_column(table, "delivery_id", type_=sa.BigInteger(), existing_type=sa.Integer())
    _set_aside_unpartitioned()
    _create_partitioned(keys=True)
    op.execute(
        f"CREATE TABLE deliveries_single PARTITION OF deliveries "
        f"(CONSTRAINT uq_deliveries_single_subscriber_edition UNIQUE (subscriber_id, edition_id)) "
        f"FOR VALUES FROM (MINVALUE) TO ({SPAN})"
    )
    last_id = op.get_bind().scalar(sa.text("SELECT coalesce(max(id), 0) FROM deliveries_previous"))
    _move_rows_and_sequence()
    # Editions' rows are only ever loaded whole into their own partition from now on; the rows already here
    # (up to the last id at this upgrade) stay, and stay writable.
    op.execute(
        f"ALTER TABLE deliveries_single ADD CONSTRAINT ck_deliveries_single_no_edition "
        f"CHECK (edition_id IS NULL OR id <= {int(last_id)})"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("deliveries", schema=None) as batch_op:
            batch_op.drop_constraint("fk_deliveries_subscriber_id_subscribers", type_="foreignkey")
            batch_op.drop_constraint("fk_deliveries_edition_id_editions", type_="foreignkey")
        return
    _set_aside_unpartitioned()
    _create_partitioned(keys=False)
    _move_rows_and_sequence()
    for table in ("suppressions", "bounce_events"):
        # a partition's ids do not fit: such references are forgotten, as the 0007 schema cannot hold them
        op.alter_column(
            table,
            "delivery_id",
            type_=sa.Integer(),
            existing_type=sa.BigInteger(),
            postgresql_using="CASE WHEN delivery_id < 2147483648 THEN delivery_id::integer END",
        )


def _set_aside_unpartitioned():
    """Rename the current table (and its sequence, indexes and constraints) out of the way."""
    op.execute("ALTER TABLE deliveries RENAME TO deliveries_previous")
    op.execute("ALTER SEQUENCE deliveries_id_seq RENAME TO deliveries_previous_id_seq")
    for index in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")
    for constraint in (
        "pk_deliveries",
        "uq_deliveries_edition_id_subscriber_id",
        "fk_deliveries_consent_id_consents",
        "fk_deliveries_edition_id_editions",
        "fk_deliveries_subscriber_id_subscribers",
    ):
        op.execute(f"ALTER TABLE deliveries_previous DROP CONSTRAINT IF EXISTS {constraint}")


def _create_partitioned(*, keys: bool):
    """The ledger as the models have it at this revision (`keys`, partitioned) or at 0007 (neither)."""
    edition_key = [sa.ForeignKey("editions.id", name="fk_deliveries_edition_id_editions")] if keys else []
    subscriber_key = (
        [sa.ForeignKey("subscribers.id", name="fk_deliveries_subscriber_id_subscribers", ondelete="SET NULL")]
        if keys
        else []
    )
    extra = (
        []
        if keys
        else [sa.UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_id_subscriber_id")]
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), *edition_key, nullable=True),
        sa.Column("subscriber_id", sa.Integer(), *subscriber_key, nullable=True),
        sa.Column(
            "consent_id",
            sa.Integer(),
            sa.ForeignKey("consents.id", name="fk_deliveries_consent_id_consents", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_reply", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_deferred_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", newsletter.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        *extra,
        **({"postgresql_partition_by": "RANGE (id)"} if keys else {}),
    )
    op.execute("CREATE SEQUENCE deliveries_id_seq OWNED BY deliveries.id")
    op.execute("ALTER TABLE deliveries ALTER COLUMN id SET DEFAULT nextval('deliveries_id_seq')")
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["priority", "next_attempt_at", "id"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_deliveries_leased", "deliveries", ["lease_expires_at"], postgresql_where=sa.text("status = 'sending'")
    )
    op.create_index("ix_deliveries_edition_status", "deliveries", ["edition_id", "status"])


def _move_rows_and_sequence():
    op.execute(f"INSERT INTO deliveries ({COLUMNS}) SELECT {COLUMNS} FROM deliveries_previous")
    op.execute(
        "SELECT setval('deliveries_id_seq', "
        "(SELECT coalesce(max(id), 0) + 1 FROM deliveries_previous WHERE id < 4294967296), false)"
    )
    op.execute("DROP TABLE deliveries_previous CASCADE")
