"""External models: training recipes and externally recorded lineage.

Revision ID: 0009_external
Revises: 0008_crypto
"""

from __future__ import annotations

revision = "0009_external"
down_revision = "0008_crypto"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
