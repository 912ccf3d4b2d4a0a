"""Audit log: stored full-subtree hashes of the RFC 9162 tree (``audit_tree_nodes``).

Revision ID: 0005_audit_tree
Revises: 0004_erasure

Logs written by earlier versions are backfilled here, streaming their leaf hashes once (O(n) time, O(log n)
memory); a log whose node table is found incomplete later is rebuilt lazily by the store.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_tree"
down_revision = "0004_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_audit_tree_nodes")),
    )
    from deletion_sdk.ledger.audit_tree import rebuild_tree_nodes  # the same code the store runs lazily

    rebuild_tree_nodes(op.get_bind())


def downgrade() -> None:
    op.drop_table("audit_tree_nodes")
