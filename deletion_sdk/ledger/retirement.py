"""Which model versions hold erased people's data, and their retirement.

A version holds a subject's data when its training dataset has the subject's training examples and it was
made before the subject was put on the suppression list (everything trained or unlearned after that left
them out), or when it is a rejected candidate whose parent holds them (a method that failed to show it
forgot them is treated as not having forgotten). Such a version is never deployed again; the batch job
retires it (``retired``) and its weights are deleted at once or when the policy's grace period ends.
SQL only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from deletion_sdk.errors import ContainsErasedDataError
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.core_tables import Example, ModelVersion, Suppression
from deletion_sdk.ledger.erasure_tables import ModelRetirement
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.lineage._sql import chunks
from deletion_sdk.ledger.statuses import ModelStatus

__all__ = [
    "check_deployable",
    "erased_subjects_held",
    "mark_weights_erased",
    "retire",
    "retirement",
    "retirements_due",
    "versions_holding",
]

_CHUNK = 5_000


def _train_refs_by_dataset(session: Session, refs: Sequence[str] | None) -> dict[int, set[str]]:
    """dataset id -> the subjects (of ``refs``, or every suppressed one) with training examples there."""
    examples = table_of(Example)
    out: dict[int, set[str]] = {}
    base = (
        sa.select(examples.c.dataset_id, examples.c.subject_ref).where(examples.c.split == "train").distinct()
    )
    if refs is None:
        sup = table_of(Suppression)
        query = base.where(examples.c.subject_ref.in_(sa.select(sup.c.subject_ref)))
        rows: Iterable[tuple[int, str]] = session.execute(query).all()  # type: ignore[assignment]
        for dataset_id, ref in rows:
            out.setdefault(int(dataset_id), set()).add(str(ref))
        return out
    query = base.where(examples.c.subject_ref.in_(sa.bindparam("refs", expanding=True)))
    for part in chunks(sorted(set(refs)), _CHUNK):
        for dataset_id, ref in session.execute(query, {"refs": list(part)}).all():
            out.setdefault(int(dataset_id), set()).add(str(ref))
    return out


def _suppressed_at(session: Session) -> dict[str, datetime]:
    return {r.subject_ref: r.suppressed_at for r in session.exec(select(Suppression)).all()}


def _holding(
    versions: Sequence[ModelVersion], by_dataset: dict[int, set[str]], suppressed: dict[str, datetime]
) -> dict[int, set[str]]:
    """version id -> the subjects (among ``by_dataset``'s) whose data the version holds."""
    held: dict[int, set[str]] = {}
    for v in sorted(versions, key=lambda r: r.id or 0):
        if v.id is None:
            continue
        refs = {
            r
            for r in by_dataset.get(v.dataset_id or -1, set())
            if r not in suppressed or v.created_at < suppressed[r]
        }
        if v.parent_id is not None and v.status in (ModelStatus.REJECTED.value, ModelStatus.RETIRED.value):
            refs |= held.get(v.parent_id, set())
        if refs:
            held[v.id] = refs
    return held


def versions_holding(session: Session, subject_refs: Sequence[str]) -> dict[int, set[str]]:
    """Model version id -> which of ``subject_refs`` it holds data of (versions holding none are left out)."""
    if not subject_refs:
        return {}
    by_dataset = _train_refs_by_dataset(session, subject_refs)
    if not by_dataset:
        return {}
    versions = session.exec(
        select(ModelVersion).where(col(ModelVersion.dataset_id).in_(sorted(by_dataset)))
    ).all()
    return _holding(versions, by_dataset, _suppressed_at(session))


def erased_subjects_held(session: Session, model_version_id: int) -> int:
    """How many subjects on the suppression list this version holds data of."""
    row = session.get(ModelVersion, model_version_id)
    if row is None or row.dataset_id is None:
        return 0
    by_dataset = _train_refs_by_dataset(session, None)
    if row.dataset_id not in by_dataset:
        return 0
    lineage: list[ModelVersion] = [row]
    parent = row.parent_id
    while parent is not None:  # a rejected candidate inherits what its parent holds
        p = session.get(ModelVersion, parent)
        if p is None:
            break
        lineage.append(p)
        parent = p.parent_id
    held = _holding(lineage, by_dataset, _suppressed_at(session))
    return len(held.get(model_version_id, set()))


def check_deployable(session: Session, row: ModelVersion) -> None:
    """Refuse to deploy a retired version or one holding data of erased people.

    Raises:
        ContainsErasedDataError: naming the version and why.
    """
    if row.status == ModelStatus.RETIRED.value:
        raise ContainsErasedDataError(
            f"model {row.name} v{row.version} is retired: it holds data of people whose data was erased "
            "and can never be deployed again; deploy a version trained or unlearned after the erasure"
        )
    if row.id is not None and (n := erased_subjects_held(session, row.id)):
        raise ContainsErasedDataError(
            f"model {row.name} v{row.version} holds data of {n} person(s) whose erasure was requested; "
            "deploy a version trained or unlearned after the erasure"
        )


def retire(
    session: Session,
    model_version_id: int,
    *,
    job_id: str | None,
    erase_weights_at: datetime,
    now: datetime | None = None,
) -> ModelRetirement:
    """Retire a version (idempotent: an existing retirement is returned unchanged).

    Its status becomes ``retired`` (a ``rejected`` candidate keeps its status); either way its weights are
    due for deletion at ``erase_weights_at``.

    Raises:
        ContainsErasedDataError: the version is the deployed one (promote a clean version first).
    """
    existing = session.get(ModelRetirement, model_version_id)
    if existing is not None:
        return existing
    row = session.get(ModelVersion, model_version_id)
    if row is None:
        raise LookupError(f"no model version {model_version_id}")
    if row.status == ModelStatus.DEPLOYED.value:
        raise ContainsErasedDataError(
            f"model {row.name} v{row.version} is deployed and holds erased people's data; it cannot be "
            "retired before a clean version is deployed"
        )
    stamp = now or utcnow()
    before = row.status
    if (
        before != ModelStatus.REJECTED.value
    ):  # a rejected candidate stays rejected: never deployable either way
        row.status = ModelStatus.RETIRED.value
        session.add(row)
    record = ModelRetirement(
        model_version_id=model_version_id, job_id=job_id, retired_at=stamp, erase_weights_at=erase_weights_at
    )
    session.add(record)
    session.flush()
    emit(
        session,
        "model.retired",
        {
            "version_id": model_version_id,
            "model_name": row.name,
            "version": row.version,
            "from_status": before,
            "weights_sha256": row.weights_digest,
            "erase_weights_at": erase_weights_at.isoformat(),
            "job_id": job_id,
        },
        actor=f"job:{job_id}" if job_id else "erasure",
    )
    return record


def retirement(session: Session, model_version_id: int) -> ModelRetirement | None:
    """The version's retirement, if it was retired."""
    return session.get(ModelRetirement, model_version_id)


def mark_weights_erased(session: Session, model_version_id: int, *, now: datetime | None = None) -> None:
    """Record that a retired version's weights are deleted (idempotent)."""
    record = session.get(ModelRetirement, model_version_id)
    if record is not None and record.weights_erased_at is None:
        record.weights_erased_at = now or utcnow()
        session.add(record)
        session.flush()


def retirements_due(
    session: Session, *, now: datetime | None = None, pending_only: bool = True
) -> list[ModelRetirement]:
    """Retirements whose weights are still on disk (due by ``now`` when given), earliest deadline first."""
    query = select(ModelRetirement).order_by(col(ModelRetirement.erase_weights_at))
    if pending_only:
        query = query.where(col(ModelRetirement.weights_erased_at).is_(None))
    if now is not None:
        query = query.where(col(ModelRetirement.erase_weights_at) <= now)
    return list(session.exec(query).all())
