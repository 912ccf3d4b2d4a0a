"""The ledger: the only package that speaks SQL.

Subject references, datasets and examples (lineage), model versions, deletion requests and their history,
the suppression list — in SQLite (WAL) or PostgreSQL, under Alembic migrations. Nothing here imports torch.

=================  ==========================================================================================
``db``             :class:`Ledger` (engine, ``session()`` = one transaction, ``BEGIN IMMEDIATE`` on SQLite for
                   writers, ``upgrade()``)
``tables``         every table module on one SQLModel metadata (import this, not the table modules)
``subjects``       :class:`SubjectKey`, ``normalise_identifier``, ``subject_ref`` (HMAC-SHA256)
``requests``       the request state machine (``TRANSITIONS``), ``submit``, ``transition``, ``extend``
``intake``         CSV / JSONL batch import
``lineage``        datasets, examples, ``resolve_forget_set`` (Merkle-rooted manifests), suppression list
``registry``       model versions: register, deploy (one per name), status
``records``        the frozen result models all of the above return
=================  ==========================================================================================
"""

from __future__ import annotations

from deletion_sdk.ledger import _types as _types  # sets the naming convention before any table is declared
