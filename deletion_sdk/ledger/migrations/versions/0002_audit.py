"""Audit log: entries (RFC 8785 event, leaf hash, chain hash), signed checkpoints, and the head row.

Revision ID: 0002_audit
Revises: 0001_initial

The head row (id 1, size 0, chain hash of 32 zero bytes) is inserted here; appenders lock it
(``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) to number entries without gaps.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)
_ZERO_CHAIN = "0" * 64

revision = "0002_audit"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("entry_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("entry_index", name=op.f("pk_audit_entries")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":  # UTCDateTime stores naive UTC on SQLite
        now = now.replace(tzinfo=None)
    op.bulk_insert(head, [{"id": 1, "size": 0, "chain_hash": _ZERO_CHAIN, "updated_at": now}])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_entries")
