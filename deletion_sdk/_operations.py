"""The facade's model, batch and evidence operations (mixed into :class:`deletion_sdk.DeletionSDK`).

Kept apart from the intake methods in ``sdk.py`` so each file stays readable; callers only ever see
``DeletionSDK``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deletion_sdk.attest import KeyInfo, VerifiedCertificate, generate_keypair, load_key_info, load_signer
from deletion_sdk.attest import verify_certificate as _verify_envelope
from deletion_sdk.audit import (
    AuditLog,
    AuditVerification,
    NewEvent,
    verify_audit_log,
    verify_certificate_audit,
)
from deletion_sdk.errors import ConfigurationError, InputError
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import registry
from deletion_sdk.ledger.events import ChangeEvent
from deletion_sdk.ledger.jobs import JobRecord
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.settings import Settings

if TYPE_CHECKING:
    from sqlmodel import Session

    from deletion_sdk.jobs.results import BatchResult
    from deletion_sdk.ledger.db import Ledger
    from deletion_sdk.training import TrainConfig

__all__ = ["Operations"]


def _positive_int(value: object, parameter: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"The '{parameter}' parameter must be an int >= 1 or None. Got {value!r} instead.")
    return value


class Operations:
    """Model versions, batch jobs, certificates, the audit log and reports."""

    settings: Settings
    ledger: Ledger

    # -- audit log --------------------------------------------------------------------------------

    @cached_property
    def audit_log(self) -> AuditLog:
        """The deployment's audit log (signs checkpoints with the deployment key once one exists)."""
        signer = self._signer() if self._keys_dir.joinpath("signing.key").exists() else None
        return AuditLog(self.ledger, signer=signer)

    def _audit_sink(self, session: Session, events: Sequence[ChangeEvent]) -> None:
        self.audit_log.append_many(
            [NewEvent(type=e.type, data=dict(e.data), actor=e.actor) for e in events], session=session
        )

    def _install_audit(self) -> None:
        self.ledger.event_sink = self._audit_sink

    def verify_audit_log(self) -> AuditVerification:
        """Recompute every leaf, the tree and every signed checkpoint.

        Raises:
            AuditLogError: a row was modified, removed, inserted or reordered (names the first bad entry).
        """
        public = self._keys_dir / "signing.pub"
        keys = [load_key_public(public)] if public.exists() else None
        return verify_audit_log(self.ledger, public_keys=keys)

    # -- keys -------------------------------------------------------------------------------------

    @property
    def _keys_dir(self) -> Path:
        return self.settings.keys_dir

    def generate_keys(self, *, force: bool = False) -> KeyInfo:
        """Create the Ed25519 key pair under HOME/keys (encrypted when DELETION_SDK_KEY_PASSPHRASE is set)."""
        info = generate_keypair(self._keys_dir, passphrase=self.settings.key_passphrase, force=force)
        self.__dict__.pop("audit_log", None)  # the next use picks up the new signer
        return info

    def key_info(self) -> KeyInfo:
        """Key id and paths of the deployment's signing key."""
        return load_key_info(self._keys_dir)

    def _signer(self) -> Any:
        if not (self._keys_dir / "signing.key").exists():
            raise ConfigurationError(
                f"no signing key in {self._keys_dir}; create one with `deletion-sdk keys generate`"
            )
        return load_signer(self._keys_dir, passphrase=self.settings.key_passphrase)

    # -- models -----------------------------------------------------------------------------------

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

        if not isinstance(name, str) or not name.strip():
            raise InputError(f"The 'name' parameter must be a non-empty model name. Got {name!r} instead.")
        return train_and_register(
            self.ledger,
            self.settings,
            dataset=dataset,
            name=name.strip(),
            config=config or TrainConfig(),
            deploy=deploy,
            device=self.settings.device,
            progress=progress,
        )

    def register_model(
        self, *, name: str, checkpoint: Path | str, dataset: str | int | None = None, deploy: bool = False
    ) -> ModelVersionRecord:
        """Register an existing checkpoint (its weights are verified against its recorded digest first).

        The checkpoint's ``training_root`` is kept; a model trained outside the SDK on a registered dataset
        should record the ledger's training-set root so the batch job can check it unlearns the right data.
        """
        from deletion_sdk.ledger import lineage
        from deletion_sdk.training import load_checkpoint

        if not isinstance(name, str) or not name.strip():
            raise InputError(f"The 'name' parameter must be a non-empty model name. Got {name!r} instead.")
        loaded = load_checkpoint(Path(checkpoint))
        dataset_id = None
        if dataset is not None:
            with self.ledger.session(write=False) as session:
                dataset_id = lineage.get_dataset(session, dataset).dataset_id
        with self.ledger.session() as session:
            record = registry.add_model_version(
                session,
                name=name.strip(),
                weights_digest=loaded.digest,
                architecture=loaded.metadata.architecture,
                path=str(loaded.weights_path.resolve()),
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
        """Deploy a version; the previously deployed one becomes superseded."""
        with self.ledger.session() as session:
            return registry.mark_deployed(session, model_version_id)

    # -- batch jobs -------------------------------------------------------------------------------

    def run_batch(
        self,
        *,
        model: str,
        policy: str | None = None,
        unlearner: str | None = None,
        max_requests: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> BatchResult:
        """Take the due (verified) requests for ``model``, make it forget, verify, certify.

        Resumes this model's unfinished job first, if its worker died. See :mod:`deletion_sdk.jobs.pipeline`.

        Args:
            model: the model name (its deployed version is unlearned).
            policy: only requests under this policy (default: the policy of the earliest-due request).
            unlearner: try this method first (then ``retrain``) instead of the policy's list.
            max_requests: at most this many requests in the job.
            progress: called with a short message at each step.
        """
        from deletion_sdk.jobs.pipeline import BatchRunner
        from deletion_sdk.unlearning import get_unlearner

        if not isinstance(model, str) or not model.strip():
            raise InputError(f"The 'model' parameter must be a model name. Got {model!r} instead.")
        _positive_int(max_requests, "max_requests")
        if unlearner is not None:
            get_unlearner(unlearner)  # RegistryError (an InputError) listing the registered methods
        runner = BatchRunner(
            ledger=self.ledger,
            settings=self.settings,
            audit=self.audit_log,
            signer=self._signer(),
            public_key_path=self._keys_dir / "signing.pub",
            progress=progress,
        )
        return runner.run(model=model.strip(), policy=policy, unlearner=unlearner, max_requests=max_requests)

    def list_jobs(self, *, model: str | None = None, status: str | None = None) -> tuple[JobRecord, ...]:
        """Batch jobs, newest first."""
        with self.ledger.session(write=False) as session:
            return jobq.list_jobs(session, model_name=model, status=status)

    def get_job(self, *, job_id: str) -> JobRecord:
        """One batch job (NotFoundError when there is none)."""
        with self.ledger.session(write=False) as session:
            return jobq.get_job(session, job_id)

    # -- evidence ---------------------------------------------------------------------------------

    def write_report(self, *, job_id: str, out: Path | str | None = None) -> Path:
        """Write the privacy officer's HTML report of a job (default: HOME/reports/<job>.html)."""
        from deletion_sdk.jobs.reporting import build_report_data
        from deletion_sdk.report import write_report

        data = build_report_data(
            self.ledger, self.settings, job_id=job_id, public_key_path=self._keys_dir / "signing.pub"
        )
        target = Path(out) if out is not None else self.settings.reports_dir / f"{job_id}.html"
        return write_report(data, target)

    def verify_certificate(
        self, *, path: Path | str, public_key: Path | str | bytes | None = None
    ) -> VerifiedCertificate:
        """Verify a certificate's signature, its audit inclusion proof and signed checkpoint, and that its
        audit entry names this certificate's content.

        Raises:
            SignatureError: the signature does not verify (any change to the file).
            AuditLogError: the embedded proof, checkpoint or audit binding does not hold.
        """
        from deletion_sdk.jobs.certify import check_audit_binding

        key = public_key if public_key is not None else self._keys_dir / "signing.pub"
        verified = _verify_envelope(Path(path) if not isinstance(path, Path) else path, key)
        verify_certificate_audit(verified, public_key=load_key_public(key))
        check_audit_binding(verified.predicate)
        return verified


def load_key_public(key: Path | str | bytes) -> Any:
    from deletion_sdk.attest import load_public_key

    return load_public_key(key)
