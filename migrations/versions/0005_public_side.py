"""One identity per address: merge case variants of an address into one subscriber.

Addresses are now compared case-insensitively (`newsletter.core.addresses.identity_form`). Each group of
subscribers whose addresses differ only in case becomes one: the confirmed one is kept (else an
unsubscribed one, so an unsubscribe stands; else the oldest), the others' languages are united into
it (earliest request, earliest confirmation), their consent records and deliveries move to it, and
the others are deleted. Every remaining address is stored in its normal form, and so is every
suppression entry. What was merged is logged by subscriber id (never by address).

Links already sent to a subscriber whose stored address changed case carry the old address's
fingerprint; `former_fingerprint` keeps it so those unsubscribe and preferences links keep working.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01 21:40:00.000000

"""

import hashlib
import hmac
import logging
from collections import defaultdict

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
RANK = {"confirmed": 0, "unsubscribed": 1}


def identity_form(address):
    local, _at, domain = address.rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


def _fingerprint(address, secret):
    return hmac.new(secret.encode("utf-8"), address.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _secret_key():
    from flask import current_app

    return str(current_app.config["SECRET_KEY"])


def upgrade():
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("former_fingerprint", sa.String(length=16), nullable=True))
    if context.is_offline_mode():
        return
    connection = op.get_bind()
    merged = _merge_subscribers(connection)
    renamed = _normalise_remaining(connection)
    suppressions = _merge_suppressions(connection)
    log.info(
        "one identity per address: %d subscribers merged into others, %d addresses lower-cased, "
        "%d duplicate suppression entries removed",
        merged,
        renamed,
        suppressions,
    )


def _groups(rows):
    by_identity = defaultdict(list)
    for row in rows:
        by_identity[identity_form(row.email)].append(row)
    return by_identity


def _merge_subscribers(connection):
    rows = connection.execute(
        sa.text("SELECT id, email, status, created_at, confirmed_at, request_mail_queued_at FROM subscribers")
    ).all()
    merged = 0
    for group in _groups(rows).values():
        if len(group) < 2:
            continue
        group.sort(key=lambda row: (RANK.get(row.status, 2), row.confirmed_at is None, row.id))
        keeper, others = group[0], group[1:]
        _merge_into(connection, keeper, others)
        merged += len(others)
        log.info(
            "merged subscribers %s into subscriber %s (case variants of one address)",
            ", ".join(str(row.id) for row in others),
            keeper.id,
        )
    return merged


def _merge_into(connection, keeper, others):
    ids = [row.id for row in others]
    params = {"keeper": keeper.id, "ids": ids}
    expanding = [sa.bindparam("ids", expanding=True)]
    _unite_languages(connection, keeper.id, ids)
    connection.execute(
        sa.text("UPDATE consents SET subscriber_id = :keeper WHERE subscriber_id IN :ids").bindparams(*expanding),
        params,
    )
    connection.execute(
        sa.text(
            "DELETE FROM deliveries WHERE subscriber_id IN :ids AND edition_id IN "
            "(SELECT edition_id FROM deliveries WHERE subscriber_id = :keeper AND edition_id IS NOT NULL)"
        ).bindparams(*expanding),
        params,
    )
    connection.execute(
        sa.text("UPDATE deliveries SET subscriber_id = :keeper WHERE subscriber_id IN :ids").bindparams(*expanding),
        params,
    )
    connection.execute(
        sa.text("DELETE FROM subscriber_languages WHERE subscriber_id IN :ids").bindparams(*expanding), params
    )
    connection.execute(sa.text("DELETE FROM subscribers WHERE id IN :ids").bindparams(*expanding), params)
    queued = [row.request_mail_queued_at for row in [keeper, *others] if row.request_mail_queued_at is not None]
    created = min(row.created_at for row in [keeper, *others])
    connection.execute(
        sa.text("UPDATE subscribers SET created_at = :created, request_mail_queued_at = :queued WHERE id = :keeper"),
        {"created": created, "queued": max(queued) if queued else None, "keeper": keeper.id},
    )


def _unite_languages(connection, keeper_id, ids):
    """Each language once: the earliest request, and the earliest confirmation of any variant."""
    rows = connection.execute(
        sa.text(
            "SELECT subscriber_id, language, requested_at, confirmed_at FROM subscriber_languages "
            "WHERE subscriber_id = :keeper OR subscriber_id IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True)),
        {"keeper": keeper_id, "ids": ids},
    ).all()
    united = {}
    for row in rows:
        requested, confirmed = united.get(row.language, (row.requested_at, row.confirmed_at))
        confirmations = [when for when in (confirmed, row.confirmed_at) if when is not None]
        united[row.language] = (min(requested, row.requested_at), min(confirmations) if confirmations else None)
    connection.execute(sa.text("DELETE FROM subscriber_languages WHERE subscriber_id = :keeper"), {"keeper": keeper_id})
    for language, (requested, confirmed) in sorted(united.items()):
        connection.execute(
            sa.text(
                "INSERT INTO subscriber_languages (subscriber_id, language, requested_at, confirmed_at) "
                "VALUES (:keeper, :language, :requested, :confirmed)"
            ),
            {"keeper": keeper_id, "language": language, "requested": requested, "confirmed": confirmed},
        )


def _normalise_remaining(connection):
    """Store every address in its normal form; links already sent keep working through former_fingerprint."""
    secret = _secret_key()
    renamed = 0
    for row in connection.execute(sa.text("SELECT id, email FROM subscribers")).all():
        identity = identity_form(row.email)
        if identity != row.email:
            connection.execute(
                sa.text("UPDATE subscribers SET email = :email, former_fingerprint = :former WHERE id = :id"),
                {"email": identity, "former": _fingerprint(row.email, secret), "id": row.id},
            )
            renamed += 1
    return renamed


def _merge_suppressions(connection):
    """One entry per address, in its normal form (the oldest entry of the variants is kept)."""
    rows = connection.execute(
        sa.text("SELECT email, created_at FROM suppressions WHERE email IS NOT NULL ORDER BY created_at")
    ).all()
    removed = 0
    for identity, group in _groups(rows).items():
        keeper, others = group[0], group[1:]
        for row in others:
            connection.execute(sa.text("DELETE FROM suppressions WHERE email = :email"), {"email": row.email})
            removed += 1
        if keeper.email != identity:
            connection.execute(
                sa.text("UPDATE suppressions SET email = :identity WHERE email = :email"),
                {"identity": identity, "email": keeper.email},
            )
    return removed


def downgrade():
    # Merged subscribers stay merged: the case variants were one person's address all along.
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("former_fingerprint")
