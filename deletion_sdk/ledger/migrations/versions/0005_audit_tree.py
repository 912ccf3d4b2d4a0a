"""Audit log: stored subtree hashes, witness state and the signing keyring.

Revision ID: 0005_audit_tree
Revises: 0004_erasure
"""

from __future__ import annotations

revision = "0005_audit_tree"
down_revision = "0004_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
