"""Where a person's data still exists, and what an erasure still owes.

:func:`erasure_status` answers "where does this person's data still exist?" from the ledger and HOME: their
source files not yet erased, model versions holding their data whose weights are still on disk (with the
grace period's end for retired ones), shadow banks and tensor caches holding them. :func:`job_obligations`
lists what a job's erasure still owes (for its certificate).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from deletion_sdk.erasure.derived import plan_caches, plan_shadow_banks
from deletion_sdk.erasure.evidence import erased_artifacts
from deletion_sdk.erasure.job import subject_examples
from deletion_sdk.erasure.records import ErasedArtifact, Obligation
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import retirement
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import Dataset, ModelVersion
from deletion_sdk.ledger.erasure_tables import ModelRetirement
from deletion_sdk.ledger.job_state import ErasureProgress

__all__ = ["ErasureStatus", "RemainingArtifact", "erasure_status", "job_obligations", "overdue_weights"]


class RemainingArtifact(BaseModel):
    """An artifact that still holds the people's data.

    Attributes:
        kind: ``source_file``, ``model_weights``, ``shadow_bank``, ``tensor_cache`` …
        description: plain words (dataset or model name, how many files); never an identifier.
        count: how many items of this kind and description.
        due_at: when it is due for deletion (a retired version's grace period), if scheduled.
        digest: the artifact's SHA-256 where one names it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    description: str
    count: int = Field(default=1, ge=1)
    due_at: datetime | None = None
    digest: str | None = None


class ErasureStatus(BaseModel):
    """Where the data of some people still exists, and what was erased.

    Attributes:
        subjects: how many people the question was about.
        remaining: artifacts still holding their data (empty: nothing left).
        erased: artifacts erased by the jobs that handled them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    subjects: int
    remaining: tuple[RemainingArtifact, ...] = ()
    erased: tuple[ErasedArtifact, ...] = ()

    @property
    def complete(self) -> bool:
        """True when nothing holding their data is left (a scheduled grace-period item still counts)."""
        return not self.remaining


def _version_items(
    session: Session, layout: HomeLayout, subject_refs: Sequence[str]
) -> list[RemainingArtifact]:
    items: list[RemainingArtifact] = []
    holding = retirement.versions_holding(session, subject_refs)
    rows = (
        session.exec(select(ModelVersion).where(col(ModelVersion.id).in_(sorted(holding)))).all()
        if holding
        else []
    )
    for row in sorted(rows, key=lambda r: (r.name, r.version)):
        if row.id is None:
            continue
        retired = session.get(ModelRetirement, row.id)
        if retired is not None and retired.weights_erased_at is not None:
            continue
        if row.path is None or not layout.artifact(row.path).exists():
            continue
        label = f"weights of model {row.name} v{row.version} ({row.status})"
        items.append(
            RemainingArtifact(
                kind="model_weights",
                description=label,
                due_at=None if retired is None else retired.erase_weights_at,
                digest=row.weights_digest,
            )
        )
    banks = plan_shadow_banks(layout, [r.weights_digest for r in rows])
    items += [RemainingArtifact(kind=b.kind, description=b.detail or b.kind, digest=b.digest) for b in banks]
    return items


def erasure_status(
    session: Session,
    layout: HomeLayout,
    *,
    subject_refs: Sequence[str],
    job_ids: Sequence[str] = (),
) -> ErasureStatus:
    """Where these people's data still exists (and what the jobs ``job_ids`` erased)."""
    remaining: list[RemainingArtifact] = []
    for dataset_id, examples in sorted(subject_examples(session, subject_refs).items()):
        dataset = session.get(Dataset, dataset_id)
        with_files = [e for e in examples if e.path is not None]
        if dataset is not None and with_files:
            remaining.append(
                RemainingArtifact(
                    kind="source_file",
                    description=f"source files in dataset {dataset.name} (store {dataset.store})",
                    count=len(with_files),
                )
            )
    remaining += _version_items(session, layout, subject_refs)
    everything = subject_examples(session, subject_refs, include_erased=True)
    digests = {e.content_digest for examples in everything.values() for e in examples}
    for cache in plan_caches(layout, digests) if digests else []:
        remaining.append(
            RemainingArtifact(kind=cache.kind, description=cache.detail or cache.kind, digest=cache.digest)
        )
    erased: list[ErasedArtifact] = []
    for job_id in job_ids:
        erased += erased_artifacts(session, job_id=job_id)
    return ErasureStatus(subjects=len(set(subject_refs)), remaining=tuple(remaining), erased=tuple(erased))


def job_obligations(session: Session, job_id: str, progress: ErasureProgress) -> tuple[Obligation, ...]:
    """What the job's erasure still owes: weights kept for a grace period, source files kept for a blocker."""
    out: list[Obligation] = []
    if progress.sources_deferred:
        out.append(Obligation(kind="source_files", description=progress.sources_deferred[:300]))
    rows = session.exec(
        select(ModelRetirement)
        .where(ModelRetirement.job_id == job_id, col(ModelRetirement.weights_erased_at).is_(None))
        .order_by(col(ModelRetirement.erase_weights_at))
    ).all()
    for r in rows:
        version = session.get(ModelVersion, r.model_version_id)
        if version is None:
            continue
        out.append(
            Obligation(
                kind="retired_weights",
                description=(
                    f"weights of retired model {version.name} v{version.version} kept for the policy's grace "
                    "period, then deleted"
                ),
                due_at=r.erase_weights_at,
                digest=version.weights_digest,
            )
        )
    return tuple(out)


def overdue_weights(session: Session, *, now: datetime | None = None) -> tuple[RemainingArtifact, ...]:
    """Retired versions whose grace period ended before ``now`` and whose weights are not yet deleted."""
    out = []
    for r in retirement.retirements_due(session, now=now or utcnow()):
        version = session.get(ModelVersion, r.model_version_id)
        if version is None:
            continue
        out.append(
            RemainingArtifact(
                kind="model_weights",
                description=f"weights of retired model {version.name} v{version.version}",
                due_at=r.erase_weights_at,
                digest=version.weights_digest,
            )
        )
    return tuple(out)
