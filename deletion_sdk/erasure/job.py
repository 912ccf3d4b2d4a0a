"""The batch job's ``erase`` step: the forgotten people's data removed from every artifact.

Runs after the unlearned version is deployed and before the certificate is signed, in three phases (each
recorded in the job's state when finished, so a resumed job skips it):

``sources``  the people's examples in every dataset are erased through the dataset's store, checked gone,
             and tombstoned; each file is an ``artifact.erased`` audit event. Deferred (and said so) while
             another *deployed* model still holds their data: that model needs the files to forget them.
``models``   every version holding their data (superseded, rejected candidates, other models' old versions)
             is retired; its weights are deleted now, or when the policy's grace period ends.
``derived``  shadow banks of retired versions, tensor caches holding their images and cached qualification
             models are planned, the plan recorded, then deleted and recorded.

Each phase is idempotent: a store erasing a file already gone reports it again, retirement and tombstones
are idempotent, and ``erased_artifacts`` is unique on (kind, digest), so nothing is recorded twice and, as
every deletion is recorded only after it happened (or planned before it), nothing is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from deletion_sdk.erasure.derived import delete_planned, plan_caches, plan_qualification, plan_shadow_banks
from deletion_sdk.erasure.evidence import record_erased
from deletion_sdk.erasure.records import ArtifactKind, ErasedArtifact, StoredExample
from deletion_sdk.erasure.store import StoreContext, create_store
from deletion_sdk.errors import ErasureError
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import retirement
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.core_tables import Dataset, Example, ModelVersion
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.erasure_tables import Tombstone
from deletion_sdk.ledger.job_state import ErasurePhase, ErasureProgress
from deletion_sdk.ledger.lineage._sql import chunks
from deletion_sdk.ledger.lineage.tombstones import tombstone_examples
from deletion_sdk.ledger.statuses import ModelStatus
from deletion_sdk.logging import get_logger

__all__ = ["ErasureRun", "erase_due_retired_weights", "erase_due_weights", "subject_examples"]

_CHUNK = 5_000


def subject_examples(
    session: Session, subject_refs: Sequence[str], *, include_erased: bool = False
) -> dict[int, list[StoredExample]]:
    """dataset id -> the subjects' examples there (all splits); tombstoned ones only if ``include_erased``."""
    examples, stones = table_of(Example), table_of(Tombstone)
    query = sa.select(
        examples.c.dataset_id,
        examples.c.example_id,
        examples.c.subject_ref,
        examples.c.content_digest,
        examples.c.path,
    ).where(examples.c.subject_ref.in_(sa.bindparam("refs", expanding=True)))
    if not include_erased:
        query = query.where(
            ~sa.exists().where(
                stones.c.dataset_id == examples.c.dataset_id, stones.c.example_id == examples.c.example_id
            )
        )
    out: dict[int, list[StoredExample]] = {}
    for part in chunks(sorted(set(subject_refs)), _CHUNK):
        for dataset_id, example_id, ref, digest, path in session.execute(query, {"refs": list(part)}).all():
            out.setdefault(int(dataset_id), []).append(
                StoredExample(example_id=example_id, subject_ref=ref, content_digest=digest, path=path)
            )
    return out


def _weights_kind(layout: HomeLayout, path: Path) -> ArtifactKind:
    try:
        path.resolve().relative_to(layout.jobs.resolve())
    except ValueError:
        return ArtifactKind.MODEL_WEIGHTS
    return ArtifactKind.JOB_SNAPSHOT


def _delete_weights(path: Path) -> None:
    """Delete a weights file (its ``.json`` metadata stays: architecture, recipe, digests; no data)."""
    try:
        if path.exists() or path.is_symlink():
            path.unlink()
    except OSError as e:
        raise ErasureError(f"cannot delete retired model weights: {e.strerror or e}") from e
    if path.exists():
        raise ErasureError("retired model weights are still on disk after deletion")


def erase_due_weights(
    ledger: Ledger, layout: HomeLayout, *, now: datetime | None = None
) -> list[ErasedArtifact]:
    """Delete the weights of retired versions whose grace period has ended.

    Each deletion is recorded under the job that retired the version (whichever run deletes it: the job's own
    erase step, or a later batch run's sweep when a job killed after retiring is resumed), so the retiring
    job's certificate lists it.

    Returns:
        The artifacts newly recorded.
    """
    stamp = now or utcnow()
    with ledger.session(write=False) as session:
        due = [
            (r.model_version_id, r.job_id, session.get(ModelVersion, r.model_version_id))
            for r in retirement.retirements_due(session, now=stamp)
        ]
    recorded: list[ErasedArtifact] = []
    for version_id, job_id, row in due:
        if row is None:
            continue
        artifact = ErasedArtifact(
            kind=ArtifactKind.MODEL_WEIGHTS,
            digest=row.weights_digest,
            erased_at=stamp,
            detail=f"weights of model {row.name} v{row.version}".replace("/", " "),
        )
        if row.path:
            path = layout.artifact(row.path)  # relative to HOME, or absolute from earlier versions
            artifact = artifact.model_copy(update={"kind": _weights_kind(layout, path)})
            _delete_weights(path)
        with ledger.session() as session:
            retirement.mark_weights_erased(session, version_id, now=stamp)
            recorded += record_erased(session, [artifact], job_id=job_id)
    return recorded


@dataclass(frozen=True)
class ErasureRun:
    """One job's erasure: whose data, under which grace period, with the job's hooks.

    Attributes:
        ledger: the ledger (audit log installed as its event sink).
        layout: the deployment's HOME.
        job_id: the batch job.
        subject_refs: the people whose data is erased.
        grace_days: days a retired version's weights are kept (policy ``erasure.retired_weights_grace_days``).
        save: records the progress in the job's state (called after each phase).
        fault: the pipeline's test hook, called at the points a kill must be survivable.
        master_key: the master key as hex when the settings give it (a vault dataset's keys are destroyed
            through it); None reads ``HOME/keys/master.key``.
    """

    ledger: Ledger
    layout: HomeLayout
    job_id: str
    subject_refs: tuple[str, ...]
    grace_days: int
    save: Callable[[ErasureProgress], None]
    fault: Callable[[str], None]
    master_key: str | None = field(default=None, repr=False)

    def run(self, progress: ErasureProgress) -> ErasureProgress:
        """Run the phases not yet done; returns the final progress (every phase done)."""
        if ErasurePhase.SOURCES not in progress.done:
            deferred = self._sources()
            progress = progress.model_copy(
                update={"done": (*progress.done, ErasurePhase.SOURCES), "sources_deferred": deferred}
            )
            self.save(progress)
        self.fault("erase:sources")
        if ErasurePhase.MODELS not in progress.done:
            self._models()
            progress = progress.model_copy(update={"done": (*progress.done, ErasurePhase.MODELS)})
            self.save(progress)
        self.fault("erase:models")
        if ErasurePhase.DERIVED not in progress.done:
            progress = self._derived(progress)
        return progress

    # -- phases --------------------------------------------------------------------------------------

    def _blockers(self, session: Session) -> list[ModelVersion]:
        holding = retirement.versions_holding(session, self.subject_refs)
        if not holding:
            return []
        rows = session.exec(select(ModelVersion).where(col(ModelVersion.id).in_(sorted(holding)))).all()
        return [r for r in rows if r.status == ModelStatus.DEPLOYED.value]

    def _sources(self) -> str | None:
        now = utcnow()
        with self.ledger.session(write=False) as session:
            blockers = self._blockers(session)
            if blockers:
                names = ", ".join(sorted(f"{b.name} v{b.version}" for b in blockers))
                return (
                    f"source files kept: deployed model(s) {names} still hold(s) these people's data and "
                    "need(s) the files to forget them; the job that unlearns them erases the files"
                )
            by_dataset = subject_examples(session, self.subject_refs)
            datasets = {d: session.get(Dataset, d) for d in by_dataset}
        for dataset_id, examples in sorted(by_dataset.items()):
            dataset = datasets[dataset_id]
            if dataset is None:  # pragma: no cover - examples reference their dataset
                continue
            root = None if dataset.root_dir is None else Path(dataset.root_dir)
            store = create_store(
                dataset.store,
                StoreContext(
                    root_dir=root, home=self.layout.home, ledger=self.ledger, master_key=self.master_key
                ),
            )
            artifacts = store.erase(examples, now=now)
            self.fault("erase:files_deleted")  # files gone, nothing recorded yet
            store.verify_erased(examples)
            with self.ledger.session() as session:
                tombstone_examples(
                    session,
                    ((dataset_id, e.example_id, e.content_digest) for e in examples),
                    job_id=self.job_id,
                    now=now,
                )
                record_erased(session, artifacts, job_id=self.job_id)
        return None

    def _models(self) -> None:
        now = utcnow()
        with self.ledger.session() as session:
            holding = retirement.versions_holding(session, self.subject_refs)
            for version_id in sorted(holding):
                row = session.get(ModelVersion, version_id)
                if row is None or row.status == ModelStatus.DEPLOYED.value:
                    continue  # a deployed holder is this erasure's blocker, retired when it is unlearned
                retirement.retire(
                    session,
                    version_id,
                    job_id=self.job_id,
                    erase_weights_at=now + timedelta(days=self.grace_days),
                    now=now,
                )
        self.fault("erase:retired")
        erase_due_weights(self.ledger, self.layout, now=now)

    def _derived(self, progress: ErasureProgress) -> ErasureProgress:
        if progress.planned is None:
            with self.ledger.session(write=False) as session:
                retired = session.exec(
                    select(ModelVersion.weights_digest).where(
                        ModelVersion.status == ModelStatus.RETIRED.value
                    )
                ).all()
                mine = subject_examples(session, self.subject_refs, include_erased=True)
            digests = {e.content_digest for examples in mine.values() for e in examples}
            planned = [
                *plan_shadow_banks(self.layout, retired),
                *plan_caches(self.layout, digests),
                *(plan_qualification(self.layout) if digests else []),
            ]
            progress = progress.model_copy(update={"planned": tuple(planned)})
            self.save(progress)
        self.fault("erase:planned")
        planned_items = progress.planned or ()
        for item in planned_items:
            delete_planned(self.layout, item)
        self.fault("erase:derived_deleted")
        now = utcnow()
        with self.ledger.session() as session:
            record_erased(
                session,
                [
                    ErasedArtifact(kind=ArtifactKind(p.kind), digest=p.digest, erased_at=now, detail=p.detail)
                    for p in planned_items
                ],
                job_id=self.job_id,
            )
        progress = progress.model_copy(update={"done": (*progress.done, ErasurePhase.DERIVED)})
        self.save(progress)
        return progress


def erase_due_retired_weights(
    ledger: Ledger, layout: HomeLayout, *, progress: Callable[[str], None] | None = None
) -> list[ErasedArtifact]:
    """Delete the weights whose grace period has ended (each batch run starts with this).

    A weights file that cannot be deleted is reported (progress message and an error log), never skipped
    silently, and does not stop the batch run: the retirement stays due and is tried again next run.
    """
    try:
        erased = erase_due_weights(ledger, layout)
    except ErasureError as e:
        get_logger(__name__).error("retired_weights.not_erased", error=str(e))
        if progress is not None:
            progress(f"retired weights past their grace period could not be deleted: {e}")
        return []
    if erased and progress is not None:
        progress(f"deleted the weights of {len(erased)} retired version(s) whose grace period ended")
    return erased
