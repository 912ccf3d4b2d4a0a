"""Tombstones: examples whose source files were erased, and the refusal to register them again.

When a batch job erases a person's source files, each of their example rows gets a tombstone (example id,
content digest, erased-at, job). The example row itself stays (model versions' training roots are Merkle
roots over it), but readers skip it, forget-set resolution ignores it, and
:func:`~deletion_sdk.ledger.lineage.datasets.register_examples` refuses a manifest that lists a tombstoned
example id or a file whose bytes hash to an erased example's digest — whatever subject id it now claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.erasure_tables import Tombstone
from deletion_sdk.ledger.lineage._sql import chunks
from deletion_sdk.ledger.lineage.manifest import ExampleInput

__all__ = ["TombstoneHits", "erased_digests", "tombstone_examples", "tombstone_hits", "tombstoned"]

_CHUNK = 5_000


class TombstoneHits(NamedTuple):
    """Rows of a manifest that match erased examples: by example id, and by content digest."""

    by_id: list[ExampleInput]
    by_digest: list[ExampleInput]

    def __bool__(self) -> bool:
        return bool(self.by_id or self.by_digest)


def tombstone_examples(
    session: Session,
    rows: Iterable[tuple[int, str, str]],
    *,
    job_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Tombstone ``(dataset_id, example_id, content_digest)`` rows; existing tombstones are kept unchanged.

    Returns:
        How many rows were newly tombstoned.
    """
    stamp = now or utcnow()
    table = table_of(Tombstone)
    wanted = sorted(set(rows))
    existing: set[tuple[int, str]] = set()
    for part in chunks(wanted, _CHUNK):
        query = sa.select(table.c.dataset_id, table.c.example_id).where(
            sa.tuple_(table.c.dataset_id, table.c.example_id).in_([(d, e) for d, e, _ in part])
        )
        existing.update((int(d), str(e)) for d, e in session.execute(query).all())
    new = [
        {"dataset_id": d, "example_id": e, "content_digest": c, "erased_at": stamp, "job_id": job_id}
        for d, e, c in wanted
        if (d, e) not in existing
    ]
    if new:
        session.execute(sa.insert(table), new)
    return len(new)


def tombstoned(session: Session, *, dataset_id: int | None = None) -> set[tuple[int, str]]:
    """``(dataset_id, example_id)`` of every tombstoned example (of one dataset, or all)."""
    table = table_of(Tombstone)
    query = sa.select(table.c.dataset_id, table.c.example_id)
    if dataset_id is not None:
        query = query.where(table.c.dataset_id == dataset_id)
    return {(int(d), str(e)) for d, e in session.execute(query).all()}


def erased_digests(session: Session, digests: Iterable[str]) -> set[str]:
    """The digests among ``digests`` that belong to an erased example."""
    table = table_of(Tombstone)
    wanted = sorted(set(digests))
    found: set[str] = set()
    query = sa.select(table.c.content_digest).where(
        table.c.content_digest.in_(sa.bindparam("digests", expanding=True))
    )
    for part in chunks(wanted, _CHUNK):
        found.update(str(d) for (d,) in session.execute(query, {"digests": list(part)}).all())
    return found


def tombstone_hits(session: Session, rows: Sequence[ExampleInput]) -> TombstoneHits:
    """The rows of a manifest that reference tombstoned example ids or carry an erased example's bytes."""
    table = table_of(Tombstone)
    if session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0:
        return TombstoneHits([], [])
    ids: set[str] = set()
    query = sa.select(table.c.example_id).where(table.c.example_id.in_(sa.bindparam("ids", expanding=True)))
    for part in chunks(sorted({r.example_id for r in rows}), _CHUNK):
        ids.update(str(e) for (e,) in session.execute(query, {"ids": list(part)}).all())
    digests = erased_digests(session, (r.content_digest for r in rows))
    return TombstoneHits(
        by_id=[r for r in rows if r.example_id in ids],
        by_digest=[r for r in rows if r.content_digest in digests],
    )
