"""Statement parameters for a handful of rows, as cheap as the driver allows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["one_or_many"]


def one_or_many(rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]] | Mapping[str, Any]:
    """``rows`` as statement parameters: a single row is executed, not "executemany"-ed.

    On PostgreSQL psycopg runs every executemany as a pipeline, whose set-up costs more CPU than the row
    itself; the group-committed intake path often writes one row per table.
    """
    return rows[0] if len(rows) == 1 else rows
