"""The HTTP intake service: API tokens, idempotency, webhooks and their dead letters.

Revision ID: 0006_service
Revises: 0005_audit_tree
"""

from __future__ import annotations

revision = "0006_service"
down_revision = "0005_audit_tree"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
