"""Evidence of erasure: one ledger row and one audit event per erased artifact, never two.

``erased_artifacts`` is unique on (kind, digest): recording an artifact that is already recorded (a resumed
job re-running a sub-step, a second job meeting the same cache) adds nothing and emits nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.erasure.records import ArtifactKind, ErasedArtifact
from deletion_sdk.ledger._types import table_of
from deletion_sdk.ledger.erasure_tables import ErasedArtifactRow
from deletion_sdk.ledger.events import ChangeEvent, emit_many

__all__ = ["erased_artifacts", "record_erased"]


def _record(row: ErasedArtifactRow | sa.Row[tuple[str, str, object, str | None]]) -> ErasedArtifact:
    return ErasedArtifact.model_validate(
        {"kind": row.kind, "digest": row.digest, "erased_at": row.erased_at, "detail": row.detail}
    )


def record_erased(
    session: Session, artifacts: Sequence[ErasedArtifact], *, job_id: str | None
) -> list[ErasedArtifact]:
    """Record ``artifacts`` and emit an ``artifact.erased`` audit event for each one not recorded before.

    Returns:
        The artifacts newly recorded by this call (in the given order, duplicates dropped).
    """
    table = table_of(ErasedArtifactRow)
    unique: dict[tuple[str, str], ErasedArtifact] = {}
    for artifact in artifacts:
        unique.setdefault((artifact.kind.value, artifact.digest), artifact)
    if not unique:
        return []
    known = {
        (str(k), str(d))
        for k, d in session.execute(
            sa.select(table.c.kind, table.c.digest).where(
                sa.tuple_(table.c.kind, table.c.digest).in_(list(unique))
            )
        ).all()
    }
    new = [a for key, a in unique.items() if key not in known]
    if not new:
        return []
    session.execute(
        sa.insert(table),
        [
            {
                "kind": a.kind.value,
                "digest": a.digest,
                "erased_at": a.erased_at,
                "detail": a.detail,
                "job_id": job_id,
            }
            for a in new
        ],
    )
    emit_many(
        session,
        [
            ChangeEvent(
                "artifact.erased",
                {
                    "job_id": job_id,
                    "kind": a.kind.value,
                    "digest": a.digest,
                    "erased_at": a.erased_at.isoformat(),
                    "detail": a.detail,
                },
                f"job:{job_id}" if job_id else "erasure",
            )
            for a in new
        ],
    )
    return new


def erased_artifacts(
    session: Session, *, job_id: str | None = None, kind: ArtifactKind | None = None
) -> tuple[ErasedArtifact, ...]:
    """Recorded erased artifacts (of one job, of one kind, or all), oldest first."""
    table = table_of(ErasedArtifactRow)
    query = sa.select(table.c.kind, table.c.digest, table.c.erased_at, table.c.detail).order_by(
        table.c.erased_at, table.c.kind, table.c.digest
    )
    if job_id is not None:
        query = query.where(table.c.job_id == job_id)
    if kind is not None:
        query = query.where(table.c.kind == kind.value)
    return tuple(_record(r) for r in session.execute(query).all())
