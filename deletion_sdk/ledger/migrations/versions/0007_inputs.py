"""Strict inputs and jobs that never stick.

Revision ID: 0007_inputs
Revises: 0006_service
"""

from __future__ import annotations

revision = "0007_inputs"
down_revision = "0006_service"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
