"""Erasure of derived artifacts: source tombstones, artifact inventory, model retirement.

Revision ID: 0004_erasure
Revises: 0003_jobs
"""

from __future__ import annotations

revision = "0004_erasure"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
