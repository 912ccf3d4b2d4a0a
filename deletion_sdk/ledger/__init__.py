"""The ledger: the only package that speaks SQL.

Subject references, datasets and examples (lineage), model versions, deletion requests and their history,
the suppression list — in SQLite (WAL) or PostgreSQL, under Alembic migrations. Nothing here imports torch.
"""

from __future__ import annotations

from deletion_sdk.ledger import _types as _types  # sets the naming convention before any table is declared
