"""The ledger's partitions on PostgreSQL: an edition's deliveries are loaded into a table of their own, then
attached to `deliveries`.

Why: `deliveries.edition_id` and `subscriber_id` are foreign keys, and a key check per inserted row (a lookup
and a row lock in `editions` or `subscribers`) was over half of the time to enqueue 200,000 rows. A table
that is not yet a partition has no keys, so the load pays none; ATTACH PARTITION then checks both keys for
the whole table in one join, the partition's range in no time (a CHECK constraint proves it), and builds the
ledger's indexes in bulk. Dropping a partition is also how retention removes an old edition's rows.

Everything here runs in the caller's transaction, so the load and the attach commit together with the
edition's move to `sending`, or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, column, func, insert, literal, or_, table, text
from sqlalchemy.exc import OperationalError

from newsletter.core.database import affected_rows, among, is_postgres
from newsletter.core.extensions import db
from newsletter.models.delivery import LEDGER_PARTITION_SPAN, Delivery

# Taken before the edition's row, so that an enqueue never waits for a table lock while holding a row lock
# another writer waits for. Attaching checks the keys under these locks; taking them first keeps writers
# (sign-ups, bounce handling) waiting about as long as the load, and no one can delete a subscriber that the
# load has read.
REFERENCED_TABLES = ("editions", "subscribers")
log = logging.getLogger(__name__)


def lock_referenced_tables() -> None:
    """SHARE ROW EXCLUSIVE on the tables the ledger's keys reference, for the rest of the transaction: writers
    of subscribers and editions wait until the enqueue commits (readers do not)."""
    db.session.execute(text(f"LOCK TABLE {', '.join(REFERENCED_TABLES)} IN SHARE ROW EXCLUSIVE MODE"))


def partition_name(edition_id: int) -> str:
    return f"deliveries_edition_{int(edition_id)}"


def id_range(edition_id: int) -> tuple[int, int]:
    """The ids of an edition's partition: [edition_id × span, (edition_id + 1) × span)."""
    low = int(edition_id) * LEDGER_PARTITION_SPAN
    return low, low + LEDGER_PARTITION_SPAN


def in_partitions_of(edition_ids: Iterable[int]) -> ColumnElement[bool]:
    """A condition on `Delivery.id` that reads only `deliveries_single` and the partitions of these editions:
    the planner prunes every other partition."""
    ranges = [Delivery.id.between(low, high - 1) for low, high in map(id_range, edition_ids)]
    return or_(Delivery.id < LEDGER_PARTITION_SPAN, *ranges)


def among_ids(ids: Sequence[int]) -> ColumnElement[bool]:
    """`Delivery.id` in `ids` (a batch of a few hundred) as one array parameter, with, on PostgreSQL, the id
    ranges of the partitions the ids fall in: whatever plan the server keeps for the statement, it reads
    only those partitions (a generic plan of `id = ANY($1)` alone probes every partition's key)."""
    condition = among(Delivery.id, list(ids))
    if not is_postgres():
        return condition
    editions = sorted({delivery_id // LEDGER_PARTITION_SPAN for delivery_id in ids} - {0})
    return and_(condition, in_partitions_of(editions))


def load_edition(edition_id: int, columns: list[str], rows: Select[*tuple[Any, ...]]) -> tuple[int, int]:
    """Load `rows` (values for `columns`, without `id`) as the edition's partition and attach it.

    Returns (rows loaded, of which suppressed).
    """
    name = partition_name(edition_id)
    low, high = id_range(edition_id)
    _refuse_if_present(name)
    db.session.execute(text(f"CREATE TABLE {name} (LIKE deliveries INCLUDING DEFAULTS)"))
    numbered = rows.with_only_columns(literal(low) + func.row_number().over(), *rows.selected_columns)
    target = table(name, *(column(name_) for name_ in ["id", *columns]))
    loaded = affected_rows(
        db.session.execute(
            insert(target).from_select(["id", *columns], numbered).execution_options(preserve_rowcount=True)
        )
    )
    if not loaded:  # an edition sent to nobody keeps no partition (so a reopened one can be sent again)
        db.session.execute(text(f"DROP TABLE {name}"))
        return 0, 0
    db.session.execute(
        text(
            f"ALTER TABLE {name} ADD CONSTRAINT ck_{name}_ids CHECK (id >= {low} AND id < {high}), "
            f"ADD CONSTRAINT pk_{name} PRIMARY KEY (id), "
            f"ADD CONSTRAINT uq_{name}_subscriber_edition UNIQUE (subscriber_id, edition_id)"
        )
    )
    db.session.execute(text(f"ANALYZE {name}"))
    db.session.execute(text(f"ALTER TABLE deliveries ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"))
    suppressed = db.session.scalar(text(f"SELECT count(*) FROM {name} WHERE status = 'suppressed'"))
    return int(loaded), int(suppressed)


def _refuse_if_present(name: str) -> None:
    """An edition is enqueued once, and one sent to nobody keeps no partition, so a partition of that name
    can only be left from an edition id used before (a ledger emptied by hand): say so rather than mix."""
    if db.session.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is not None:
        raise RuntimeError(f"the ledger partition {name} already exists; drop it (it holds an older edition's rows)")


DROP_LOCK_TIMEOUT = "2s"


def drop_edition(edition_id: int) -> int | None:
    """Remove an edition's partition, if it has one (retention), and return the rows it held. Dropping a
    partition locks the whole ledger for an instant, so it waits at most `DROP_LOCK_TIMEOUT` for the workers'
    transactions: None if it could not get the lock (the caller rolls back and tries again later)."""
    name = partition_name(edition_id)
    if db.session.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is None:
        return 0
    rows = int(db.session.scalar(text(f"SELECT count(*) FROM {name}")))
    db.session.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
    try:
        with db.session.begin_nested():
            db.session.execute(text(f"DROP TABLE {name}"))
    except OperationalError:
        log.info("retention: the ledger was busy; partition %s is dropped at the next round", name)
        return None
    db.session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    return rows


def edition_partitions() -> list[str]:
    """Names of the attached per-edition partitions."""
    return list(
        db.session.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'deliveries'::regclass AND c.relname LIKE 'deliveries_edition_%' ORDER BY 1"
            )
        )
    )
