"""Every ledger table on one SQLModel :data:`metadata`: import this module, not the table modules.

The table modules listed in :data:`TABLE_MODULES` are imported in order (a module that does not exist yet is
skipped, so engineers can add theirs independently). Alembic's ``env.py`` and the schema-drift test use
:data:`metadata`; a table module missing from this list is invisible to both.

To add tables: declare them on ``SQLModel`` in a new module, add its dotted name below, and write the
matching migration under ``deletion_sdk/ledger/migrations/versions/``.
"""

from __future__ import annotations

import importlib
import importlib.util

from deletion_sdk.ledger._types import metadata

__all__ = ["TABLE_MODULES", "metadata"]

TABLE_MODULES: tuple[str, ...] = (
    "deletion_sdk.ledger.core_tables",  # 0001_initial
    "deletion_sdk.ledger.audit_tables",  # 0002_audit
    "deletion_sdk.ledger.job_tables",  # 0003_jobs
    "deletion_sdk.ledger.erasure_tables",  # 0004_erasure
    "deletion_sdk.ledger.audit_tree_tables",  # 0005_audit_tree
    "deletion_sdk.ledger.service_tables",  # 0006_service
    "deletion_sdk.ledger.inputs_tables",  # 0007_inputs
    "deletion_sdk.ledger.crypto_tables",  # 0008_crypto
    "deletion_sdk.ledger.external_tables",  # 0009_external
)


def _import_table_modules() -> None:
    for name in TABLE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


_import_table_modules()
