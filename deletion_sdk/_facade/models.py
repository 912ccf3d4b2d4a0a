"""Facade operations on model versions: train, register, list, deploy; where erased people's data remains."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from deletion_sdk._facade.base import FacadeBase, text_arg
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger.records import ModelVersionRecord

if TYPE_CHECKING:
    from deletion_sdk.erasure.records import ErasedArtifact
    from deletion_sdk.erasure.status import ErasureStatus, RemainingArtifact
    from deletion_sdk.training import TrainConfig

__all__ = ["ModelOperations"]


class ModelOperations(FacadeBase):
    """Model versions and their lineage (which training set, which parent)."""

    def train_model(
        self,
        *,
        dataset: str | int,
        name: str,
        config: TrainConfig | None = None,
        deploy: bool = True,
        progress: bool = False,
    ) -> ModelVersionRecord:
        """Train an age predictor on a registered dataset's training pool and register it (deployed).

        Suppressed (erased) subjects are left out of the training pool.
        """
        from deletion_sdk.jobs.models import train_and_register
        from deletion_sdk.training import TrainConfig

        return train_and_register(
            self.ledger,
            self.layout,
            dataset=dataset,
            name=text_arg(name, "name", what="a non-empty model name"),
            config=config or TrainConfig(),
            deploy=deploy,
            device=self.settings.device,
            progress=progress,
            master_key=self.context.master_key,
        )

    def register_model(
        self, *, name: str, checkpoint: Path | str, dataset: str | int | None = None, deploy: bool = False
    ) -> ModelVersionRecord:
        """Register an existing checkpoint (its weights are verified against its recorded digest first).

        The checkpoint's ``training_root`` is kept; a model trained outside the SDK on a registered dataset
        should record the ledger's training-set root so the batch job can check it unlearns the right data.
        """
        from deletion_sdk.training import load_checkpoint

        name = text_arg(name, "name", what="a non-empty model name")
        loaded = load_checkpoint(Path(checkpoint))
        dataset_id = None
        if dataset is not None:
            with self.ledger.session(write=False) as session:
                dataset_id = lineage.get_dataset(session, dataset).dataset_id
        with self.ledger.session() as session:
            record = registry.add_model_version(
                session,
                name=name,
                weights_digest=loaded.digest,
                architecture=loaded.metadata.architecture,
                path=self.layout.stored_path(loaded.weights_path.resolve()),
                dataset_id=dataset_id,
                training_root=loaded.metadata.training_root,
                metrics={"n_train": loaded.metadata.n_training_examples},
            )
            if deploy:
                record = registry.mark_deployed(session, record.model_version_id)
        return record

    def list_models(self, *, name: str | None = None) -> tuple[ModelVersionRecord, ...]:
        """Registered model versions (of one model, or all)."""
        with self.ledger.session(write=False) as session:
            return registry.list_model_versions(session, name=name)

    def get_model(self, *, model_version_id: int) -> ModelVersionRecord:
        """One model version by id."""
        with self.ledger.session(write=False) as session:
            return registry.get_model_version(session, model_version_id)

    def deployed_model(self, *, name: str) -> ModelVersionRecord:
        """The deployed version of model ``name`` (NotFoundError when none is)."""
        with self.ledger.session(write=False) as session:
            return registry.deployed(session, name)

    def deploy_model(self, *, model_version_id: int) -> ModelVersionRecord:
        """Deploy a version; the previously deployed one becomes superseded.

        Raises:
            ContainsErasedDataError: the version is retired or holds data of people whose erasure was
                requested (rollback only to versions without them).
        """
        with self.ledger.session() as session:
            return registry.mark_deployed(session, model_version_id)

    def erasure_status(self, *, request_id: str | None = None, subject: str | None = None) -> ErasureStatus:
        """Where a person's data still exists (source files, model weights, shadow banks, caches).

        Args:
            request_id: the person of this deletion request (exclusive with ``subject``).
            subject: the person's raw identifier; turned into its keyed reference at once, never stored.

        Raises:
            InputError: neither or both given.
            NotFoundError: unknown request.
        """
        from sqlmodel import col, select

        from deletion_sdk.erasure.status import erasure_status
        from deletion_sdk.errors import InputError
        from deletion_sdk.ledger import requests
        from deletion_sdk.ledger.job_tables import JobRequestRow
        from deletion_sdk.ledger.subjects import subject_ref

        if (request_id is None) == (subject is None):
            raise InputError("erasure_status needs exactly one of 'request_id' or 'subject'.")
        with self.ledger.session(write=False) as session:
            if request_id is not None:
                ref = requests.get(
                    session, text_arg(request_id, "request_id", what="a request id")
                ).subject_ref
                ids = [request_id]
            else:
                ref = subject_ref(text_arg(subject, "subject", what="a subject identifier"), self.subject_key)
                ids = [r.request_id for r in requests.list_requests(session, subject_ref=ref)]
            claimed = select(JobRequestRow.job_id).where(col(JobRequestRow.request_id).in_(ids))
            jobs = sorted(set(session.exec(claimed).all()))
            return erasure_status(session, self.layout, subject_refs=[ref], job_ids=jobs)

    def overdue_erasures(self, *, now: datetime | None = None) -> tuple[RemainingArtifact, ...]:
        """Retired versions past their grace period whose weights are still on disk, most overdue first."""
        from deletion_sdk.erasure.status import overdue_weights

        with self.ledger.session(write=False) as session:
            return overdue_weights(session, now=now)

    def erase_due_weights(self) -> tuple[ErasedArtifact, ...]:
        """Delete the weights of retired versions whose grace period has ended; the artifacts erased."""
        from deletion_sdk.erasure.job import erase_due_weights

        return tuple(erase_due_weights(self.ledger, self.layout))
