"""Alembic environment for the ledger.

Run programmatically by :meth:`deletion_sdk.ledger.db.Ledger.upgrade`, which passes an open connection in
``config.attributes["connection"]`` (already inside a transaction). Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from deletion_sdk.ledger.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic command line
    raise RuntimeError(
        "run ledger migrations through deletion_sdk (Ledger.upgrade / `deletion-sdk db upgrade`)"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
