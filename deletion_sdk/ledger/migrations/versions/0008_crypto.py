"""Crypto-shredding: per-subject wrapped data keys.

Revision ID: 0008_crypto
Revises: 0007_inputs
"""

from __future__ import annotations

revision = "0008_crypto"
down_revision = "0007_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
