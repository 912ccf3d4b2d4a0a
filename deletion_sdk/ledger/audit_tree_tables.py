"""Audit-log subtree hashes (migration ``0005_audit_tree``). Derived data: hashes of hashes, no personal data.

audit_tree_nodes    one row per full subtree of level >= 1 of the RFC 9162 tree: ``level`` l, ``node_index``
                    i covering leaves ``[i * 2**l, (i + 1) * 2**l)``, and its hash. Level 0 is the
                    ``leaf_hash`` column of ``audit_entries``. Written with every append, so proofs and
                    checkpoints read O(log n) rows instead of every leaf; never trusted on its own (every
                    proof is checked against a signed root, checkpoints extend the previous signed root).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = ["AuditTreeNodeRow"]


class AuditTreeNodeRow(SQLModel, table=True):
    __tablename__ = "audit_tree_nodes"

    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    node_index: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
