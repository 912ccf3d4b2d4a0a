"""The batch deletion job: claim, resolve, unlearn, verify, decide, promote, certify, complete.

Every step commits its outcome (and its audit events) to the ledger before the next begins, so a job
killed at any point is resumed by the next ``run_batch`` for the same model, from the step it was at:
finished steps are not redone, no second certificate or model version is made, and the deployed model
is untouched until the promotion step. Only one job per model runs at a time (unlearning chains on the
deployed version); a second worker finds the model busy, or takes over a job whose worker died.

Steps and the requests' statuses::

    resolve   forget set from the ledger; subjects suppressed; requests with no data -> no_data
    unlearn   scheduled/verifying -> unlearning; method = policy.methods[attempt]; candidate version saved
    verify    unlearning -> verifying; evidence at the policy's tier
    decide    policy evaluation; fail -> candidate rejected, next method (finally retrain), or job failed
    promote   candidate -> deployed, previous -> superseded
    certify   audit entry, signed checkpoint, inclusion proof, DSSE-signed in-toto certificate
    complete  certificate file written; verifying -> completed; job completed
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk._fs import atomic_write
from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.errors import BudgetExceeded, ConflictError, JobError
from deletion_sdk.jobs.certify import issue_certificate, write_issued_certificate
from deletion_sdk.jobs.evidence import find_qualification
from deletion_sdk.jobs.models import DatasetSplits, load_model_version, load_splits, training_set_root
from deletion_sdk.jobs.results import AttemptSummary, BatchResult, ModelSummary
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.logging import get_logger
from deletion_sdk.policy import Decision, Policy, evaluate, load_policy
from deletion_sdk.settings import Settings
from deletion_sdk.training import CheckpointMetadata, save_checkpoint
from deletion_sdk.unlearning import UnlearningContext, run_unlearner
from deletion_sdk.verification import VerificationReport, verify_population

__all__ = ["STEPS", "BatchRunner", "JobArtifacts"]

STEPS = ("resolve", "unlearn", "verify", "decide", "promote", "certify", "complete", "done")
KILL_ENV = "DELETION_SDK_TEST_KILL_AT"
_S = RequestStatus


def _log() -> Any:
    return get_logger(__name__)


def _fault_point(name: str) -> None:
    """Test hook: ``DELETION_SDK_TEST_KILL_AT=<step>:<before|after>`` SIGKILLs this process there.

    The resume tests use it to kill a batch run at every step boundary, in a subprocess.
    """
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class JobArtifacts:
    """Where a job keeps its files (``HOME/jobs/<job id>/``)."""

    root: Path

    def forget_manifest(self) -> Path:
        return self.root / "forget-set.json"

    def verification(self, attempt: int) -> Path:
        return self.root / f"verification-{attempt}.json"

    def candidate_dir(self, attempt: int) -> Path:
        return self.root / f"candidate-{attempt}"


def _write_json(path: Path, text: str) -> str:
    """Write ``text`` atomically; return its SHA-256."""
    data = text.encode("utf-8")
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


class BatchRunner:
    """Runs (or resumes) one batch job for one model.

    Args:
        ledger: the ledger (with the audit log installed as its event sink).
        settings: deployment settings (HOME, device).
        audit: the audit log, with the signing key.
        signer: the certificate signing key.
        progress: called with a short message at every step (the CLI shows them).
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        settings: Settings,
        audit: Any,
        signer: Any,
        public_key_path: Path,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.audit = audit
        self.signer = signer
        self.public_key_path = public_key_path
        self.progress = progress or (lambda _msg: None)
        self.worker = jobq.current_worker()
        self.bins = AgeBins()

    # -- claiming ----------------------------------------------------------------------------------

    def _acquire(
        self, *, model: str, policy_id: str | None, max_requests: int | None
    ) -> tuple[jobq.JobRecord | None, bool, str | None]:
        """(job, resumed, busy job id) — one transaction, serialised per model."""
        with self.ledger.session() as session:
            if not self.ledger.is_sqlite:
                key = int.from_bytes(hashlib.sha256(f"job:{model}".encode()).digest()[:8], "big", signed=True)
                session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            stale = jobq.claim_stale_job(session, model_name=model, worker=self.worker)
            if stale is not None:
                emit(session, "job.resumed", {"job_id": stale.job_id, "step": stale.step}, actor=self.worker)
                return stale, True, None
            running = jobq.list_jobs(session, model_name=model, status="running")
            if running:
                return None, False, running[0].job_id
            registry.deployed(session, model)  # NotFoundError before anything is claimed
            job = jobq.claim_new_job(
                session,
                model_name=model,
                first_step="resolve",
                policy_id=policy_id,
                max_requests=max_requests,
                worker=self.worker,
            )
            if job is not None:
                policy = load_policy(job.policy_id)
                emit(
                    session,
                    "job.claimed",
                    {
                        "job_id": job.job_id,
                        "model": model,
                        "policy": policy.id,
                        "policy_digest": policy.digest,
                        "request_ids": list(jobq.job_request_ids(session, job.job_id)),
                    },
                    actor=self.worker,
                )
            return job, False, None

    def run(
        self,
        *,
        model: str,
        policy: str | None = None,
        unlearner: str | None = None,
        max_requests: int | None = None,
    ) -> BatchResult:
        """Claim (or resume) this model's job and run it to the end."""
        if policy is not None:
            load_policy(policy)  # unknown policy: InputError before anything is claimed
        job, resumed, busy = self._acquire(model=model, policy_id=policy, max_requests=max_requests)
        if job is None:
            with self.ledger.session(write=False) as session:
                due = jobq.count_due(session, policy_id=policy)
            if busy is not None:
                return BatchResult(
                    status="busy",
                    model=model,
                    job_id=busy,
                    remaining_due=due,
                    message=f"job {busy} of another live worker is running for this model",
                )
            return BatchResult(
                status="idle", model=model, remaining_due=due, message="no verified request is due"
            )
        if unlearner is not None and not resumed:
            job = self._update(job, state={"unlearner_override": unlearner})
        self.progress(f"job {job.job_id} {'resumed at ' + job.step if resumed else 'claimed'}")
        while job.step != "done":
            step = job.step
            _fault_point(f"{step}:before")
            job = getattr(self, f"_step_{step}")(job)
            _fault_point(f"{step}:after")
        return self._result(job, resumed=resumed)

    # -- helpers -----------------------------------------------------------------------------------

    def _update(self, job: jobq.JobRecord, session: Session | None = None, **changes: Any) -> jobq.JobRecord:
        if session is not None:
            return jobq.update_job(session, job.job_id, worker=self.worker, **changes)
        with self.ledger.session() as s:
            return jobq.update_job(s, job.job_id, worker=self.worker, **changes)

    def _artifacts(self, job: jobq.JobRecord) -> JobArtifacts:
        return JobArtifacts(self.settings.home / "jobs" / job.job_id)

    def _policy(self, job: jobq.JobRecord) -> Policy:
        return load_policy(job.policy_id)

    def _methods(self, job: jobq.JobRecord) -> tuple[str, ...]:
        override = job.state.get("unlearner_override")
        methods = self._policy(job).unlearning.methods
        if override:
            return (override,) if override == "retrain" else (override, "retrain")
        return methods

    def _move(
        self, session: Session, job: jobq.JobRecord, ids: list[str], to: RequestStatus, reason: str
    ) -> None:
        for rid in ids:
            current = reqs.get(session, rid)
            if current.status != to.value:
                reqs.transition(session, request_id=rid, to=to, actor=f"job:{job.job_id}", reason=reason)

    def _active_ids(self, job: jobq.JobRecord) -> list[str]:
        return list(job.state.get("active_request_ids", []))

    def _original(self, job: jobq.JobRecord) -> ModelVersionRecord:
        with self.ledger.session(write=False) as session:
            return registry.get_model_version(session, int(job.state["original_version_id"]))

    def _sets(
        self, job: jobq.JobRecord, original: ModelVersionRecord, image_size: int
    ) -> tuple[FaceTensors, FaceTensors, DatasetSplits]:
        """(forget, retain, splits) of the original model's training data."""
        if original.dataset_id is None:
            raise JobError(f"model {original.name} v{original.version} names no training dataset")
        forget_ids = set(json.loads(self._artifacts(job).forget_manifest().read_text())["example_ids"])
        # Suppression happened at resolve: the training pool no longer holds the forgotten subjects.
        splits = load_splits(
            self.ledger, self.settings, dataset=original.dataset_id, image_size=image_size, bins=self.bins
        )
        with self.ledger.session(write=False) as session:
            rows = lineage.dataset_examples(session, dataset=original.dataset_id, split="train")
        forget_rows = [r for r in rows if r.example_id in forget_ids]
        from deletion_sdk.jobs.snapshot import load_examples

        forget = load_examples(
            forget_rows,
            root_dir=self._dataset_root(original.dataset_id),
            image_size=image_size,
            bins=self.bins,
            cache_dir=self.settings.home / "cache",
        )
        expected = training_set_root([*splits.train_rows, *forget_rows])
        if original.training_root and expected != original.training_root:
            raise JobError(
                f"the ledger's training examples no longer match model {original.name} v{original.version}'s "
                "recorded training set (training_root differs); refusing to unlearn against the wrong data"
            )
        return forget, splits.train, splits

    def _dataset_root(self, dataset_id: int) -> str | None:
        with self.ledger.session(write=False) as session:
            return lineage.get_dataset(session, dataset_id).root_dir

    def _retrain_estimate(self, original: ModelVersionRecord, n_retain: int) -> float | None:
        m = original.metrics
        if m.get("retrain_estimate_s"):
            return float(m["retrain_estimate_s"])
        t, n = m.get("train_time_s"), m.get("n_train")
        if not t or not n:
            return None
        return float(t) * n_retain / float(n)

    def _seed(self, job: jobq.JobRecord, attempt: int) -> int:
        return int(hashlib.sha256(job.job_id.encode()).hexdigest()[:7], 16) + attempt

    # -- steps -------------------------------------------------------------------------------------

    def _step_resolve(self, job: jobq.JobRecord) -> jobq.JobRecord:
        self.progress("resolving the forget set")
        with self.ledger.session() as session:
            original = registry.deployed(session, job.model_name)
            if original.dataset_id is None:
                raise JobError(f"deployed model {job.model_name} names no training dataset")
            request_ids = list(jobq.job_request_ids(session, job.job_id))
            manifest = lineage.resolve_forget_set(
                session, request_ids=request_ids, dataset=original.dataset_id, split="train"
            )
            no_data = list(manifest.no_data_request_ids)
            self._move(
                session,
                job,
                no_data,
                _S.NO_DATA,
                f"no training example of this subject in model {job.model_name} v{original.version}",
            )
            for rid in request_ids:
                record = reqs.get(session, rid)
                if not lineage.is_suppressed(session, record.subject_ref):
                    lineage.suppress(
                        session, subject_ref=record.subject_ref, request_id=rid, reason="erasure requested"
                    )
            digest = _write_json(self._artifacts(job).forget_manifest(), manifest.model_dump_json(indent=2))
            active = [r for r in request_ids if r not in set(no_data)]
            emit(
                session,
                "forget_set.resolved",
                {
                    "job_id": job.job_id,
                    "examples": manifest.count,
                    "merkle_root": manifest.merkle_root,
                    "manifest_sha256": digest,
                    "no_data_request_ids": no_data,
                },
                actor=f"job:{job.job_id}",
            )
            state = {
                "original_version_id": original.model_version_id,
                "request_ids": request_ids,
                "active_request_ids": active,
                "no_data_request_ids": no_data,
                "forget_count": manifest.count,
                "forget_merkle_root": manifest.merkle_root,
                "attempts": [],
            }
            next_step = "unlearn" if manifest.count > 0 and active else "complete"
            return self._update(job, session, state=state, step=next_step)

    def _step_unlearn(self, job: jobq.JobRecord) -> jobq.JobRecord:
        attempt = job.attempt
        methods = self._methods(job)
        method = methods[attempt]
        with self.ledger.session() as session:
            self._move(session, job, self._active_ids(job), _S.UNLEARNING, f"unlearning with {method}")
        original = self._original(job)
        loaded = load_model_version(original, device="cpu")
        meta = loaded.metadata
        forget, retain, _splits = self._sets(job, original, meta.image_size)
        estimate = self._retrain_estimate(original, len(retain))
        fraction = self._policy(job).unlearning.time_budget_fraction
        context = UnlearningContext(
            device=self.settings.device,
            seed=self._seed(job, attempt),
            retrain_time_s=estimate if method != "retrain" else None,
            budget_fraction=fraction if (method != "retrain" and estimate) else None,
            train_config=meta.train_config,
        )
        self.progress(
            f"unlearning {len(forget)} examples with {method} (attempt {attempt + 1}/{len(methods)})"
        )
        record: dict[str, Any] = {"index": attempt, "method": method, "retrain_estimate_s": estimate}
        try:
            result = run_unlearner(method, loaded.model, forget=forget, retain=retain, context=context)
        except BudgetExceeded as e:
            record.update(
                outcome="budget_exceeded", wall_time_s=e.elapsed_s, budget_s=e.budget_s, error=str(e)
            )
            return self._next_attempt(job, record, reason=f"{method} ran out of its time budget")
        saved = save_checkpoint(
            result.model,
            self._artifacts(job).candidate_dir(attempt),
            metadata=CheckpointMetadata(
                architecture=meta.architecture,
                num_classes=meta.num_classes,
                image_size=meta.image_size,
                train_config=meta.train_config,
                training_root=training_set_root(_splits.train_rows),
                n_training_examples=len(retain),
                age_bins=meta.age_bins,
                parent_digest=original.weights_digest,
                extra={"job_id": job.job_id, "unlearner": method},
            ),
        )
        _fault_point("unlearn:saved")  # weights written, version not yet registered
        record.update(
            outcome="pending",
            method_version=result.version,
            params=json.loads(json.dumps(result.params, default=str)),
            wall_time_s=result.wall_time_s,
            budget_s=result.budget_s,
            device=result.device,
            steps=result.steps,
        )
        with self.ledger.session() as session:
            candidate = registry.add_model_version(
                session,
                name=original.name,
                weights_digest=saved.digest,
                architecture=meta.architecture,
                path=str(saved.weights_path),
                dataset_id=original.dataset_id,
                training_root=training_set_root(_splits.train_rows),
                parent_id=original.model_version_id,
                metrics={"retrain_estimate_s": estimate, "unlearner": method, "job_id": job.job_id},
            )
            record["candidate_version_id"] = candidate.model_version_id
            attempts = [*job.state.get("attempts", []), record]
            return self._update(job, session, state={"attempts": attempts}, step="verify")

    def _next_attempt(self, job: jobq.JobRecord, record: dict[str, Any], *, reason: str) -> jobq.JobRecord:
        """Record a failed attempt and move to the next method, or fail the job."""
        attempts = [*job.state.get("attempts", [])]
        if attempts and attempts[-1].get("index") == record["index"]:
            attempts[-1] = record
        else:
            attempts.append(record)
        methods = self._methods(job)
        with self.ledger.session() as session:
            if record.get("candidate_version_id"):
                registry.set_status(session, int(record["candidate_version_id"]), "rejected")
            if job.attempt + 1 < len(methods):
                self._move(
                    session,
                    job,
                    self._active_ids(job),
                    _S.UNLEARNING,
                    f"{reason}; escalating to {methods[job.attempt + 1]}",
                )
                return self._update(
                    job, session, state={"attempts": attempts}, attempt=job.attempt + 1, step="unlearn"
                )
            self._move(session, job, self._active_ids(job), _S.FAILED, f"{reason}; no allowed method left")
            emit(session, "job.failed", {"job_id": job.job_id, "reason": reason}, actor=f"job:{job.job_id}")
            return self._update(
                job, session, state={"attempts": attempts}, step="done", status="failed", error=reason
            )

    def _step_verify(self, job: jobq.JobRecord) -> jobq.JobRecord:
        record = job.state["attempts"][-1]
        with self.ledger.session() as session:
            self._move(session, job, self._active_ids(job), _S.VERIFYING, f"verifying {record['method']}")
            candidate = registry.get_model_version(session, int(record["candidate_version_id"]))
        original = self._original(job)
        loaded = load_model_version(original, device="cpu")
        unlearned = load_model_version(candidate, device="cpu")
        forget, retain, splits = self._sets(job, original, loaded.metadata.image_size)
        tier = self._policy(job).verification.tier.value
        self.progress(
            f"verifying at tier '{tier}' ({len(forget)} forget vs {len(splits.holdout)} holdout examples)"
        )
        report = verify_population(
            unlearned.model,
            forget=forget,
            holdout=splits.holdout,
            retain=retain,
            test=splits.test if len(splits.test) else None,
            original=loaded.model,
            device=self.settings.device,
            seed=self._seed(job, job.attempt),
            age_bins=self.bins,
        )
        if tier != "population":
            report = self._per_example(
                report,
                job,
                original,
                (unlearned.model, loaded.model),
                forget,
                retain,
                loaded.metadata.train_config,
            )
        digest = _write_json(self._artifacts(job).verification(job.attempt), report.model_dump_json())
        with self.ledger.session() as session:
            emit(
                session,
                "verification.completed",
                {
                    "job_id": job.job_id,
                    "attempt": job.attempt,
                    "tier": str(report.tier),
                    "report_sha256": digest,
                    "attack_auc": round(report.figures.forget_holdout_auc, 6),
                },
                actor=f"job:{job.job_id}",
            )
            return self._update(job, session, state={"verification_sha256": digest}, step="decide")

    def _per_example(
        self,
        report: VerificationReport,
        job: jobq.JobRecord,
        original: ModelVersionRecord,
        models: tuple[Any, Any],
        forget: FaceTensors,
        retain: FaceTensors,
        config: Any,
    ) -> VerificationReport:
        """Per-example LiRA evidence against the original model's shadow bank (built on first use)."""
        from deletion_sdk.jobs.evidence import per_example_evidence

        pool = _union(retain, forget)
        self.progress(
            f"per-example LiRA against the shadow bank of v{original.version} (built once per version)"
        )
        return per_example_evidence(
            report,
            unlearned=models[0],
            original=models[1],
            forget=forget,
            pool=pool,
            original_digest=original.weights_digest,
            config=config,
            settings=self.settings,
        )

    def _step_decide(self, job: jobq.JobRecord) -> jobq.JobRecord:
        record = dict(job.state["attempts"][-1])
        report = VerificationReport.model_validate_json(
            self._artifacts(job).verification(job.attempt).read_text()
        )
        qualified = find_qualification(record["method"], home=self.settings.home)
        decision = evaluate(
            self._policy(job),
            report,
            method=record["method"],
            qualification_score_ratio=None if qualified is None else qualified[1],
        )
        record["qualification_report_digest"] = None if qualified is None else qualified[0]
        record["decision"] = json.loads(decision.model_dump_json())
        record["outcome"] = "passed" if decision.passed else "failed"
        self.progress(f"decision: {decision.summary()}")
        with self.ledger.session() as session:
            emit(
                session,
                "decision.made",
                {
                    "job_id": job.job_id,
                    "attempt": job.attempt,
                    "method": record["method"],
                    "policy": decision.policy_id,
                    "policy_digest": decision.policy_digest,
                    "passed": decision.passed,
                    "failed_checks": [c.name for c in decision.failed_checks],
                },
                actor=f"job:{job.job_id}",
            )
            if decision.passed:
                attempts = [*job.state["attempts"][:-1], record]
                return self._update(job, session, state={"attempts": attempts}, step="promote")
        return self._next_attempt(
            job, record, reason=f"{record['method']} failed verification: {decision.summary()}"
        )

    def _step_promote(self, job: jobq.JobRecord) -> jobq.JobRecord:
        record = job.state["attempts"][-1]
        with self.ledger.session() as session:
            current = registry.deployed(session, job.model_name)
            candidate_id = int(record["candidate_version_id"])
            if current.model_version_id != candidate_id:
                if current.model_version_id != int(job.state["original_version_id"]):
                    raise ConflictError(
                        f"model {job.model_name} was redeployed (v{current.version}) during job {job.job_id}"
                    )
                registry.mark_deployed(session, candidate_id)
            self.progress("promoted the unlearned model to deployed")
            return self._update(job, session, step="certify")

    def _step_certify(self, job: jobq.JobRecord) -> jobq.JobRecord:
        self.progress("signing the certificate")
        original = self._original(job)
        record = job.state["attempts"][-1]
        with self.ledger.session() as session:
            candidate = registry.get_model_version(session, int(record["candidate_version_id"]))
            requests = [reqs.get(session, rid) for rid in self._active_ids(job)]
        report = VerificationReport.model_validate_json(
            self._artifacts(job).verification(job.attempt).read_text()
        )
        with self.ledger.session() as session:
            issued = issue_certificate(
                session,
                audit=self.audit,
                signer=self.signer,
                job_id=job.job_id,
                requests=requests,
                policy=self._policy(job),
                forget_count=int(job.state["forget_count"]),
                forget_root=str(job.state["forget_merkle_root"]),
                original=original,
                unlearned=candidate,
                attempt=record,
                report=report,
                report_sha256=str(job.state["verification_sha256"]),
                directory=self.settings.certificates_dir,
                qualification_report_digest=record.get("qualification_report_digest"),
            )
            jobq.record_certificate(
                session,
                job_id=job.job_id,
                model_version_id=candidate.model_version_id,
                path=str(issued.path),
                payload_sha256=issued.payload_sha256,
                key_id=self.signer.key_id,
                audit_index=issued.audit_index,
                issued_at=issued.issued_at,
            )
            return self._update(
                job,
                session,
                step="complete",
                state={"certificate_envelope": issued.envelope_json, "certificate_path": str(issued.path)},
            )

    def _step_complete(self, job: jobq.JobRecord) -> jobq.JobRecord:
        envelope = job.state.get("certificate_envelope")
        if envelope:
            write_issued_certificate(envelope, Path(job.state["certificate_path"]))
        _fault_point("complete:written")  # certificate on disk, requests not yet completed
        with self.ledger.session() as session:
            self._move(session, job, self._active_ids(job), _S.COMPLETED, "forgotten, verified and certified")
            emit(session, "job.completed", {"job_id": job.job_id}, actor=f"job:{job.job_id}")
            return self._update(job, session, step="done", status="completed")

    # -- result ------------------------------------------------------------------------------------

    def _result(self, job: jobq.JobRecord, *, resumed: bool) -> BatchResult:
        state = job.state
        attempts = tuple(
            AttemptSummary(
                index=int(a["index"]),
                method=str(a["method"]),
                outcome=a.get("outcome", "error") if a.get("outcome") != "pending" else "error",
                wall_time_s=a.get("wall_time_s"),
                budget_s=a.get("budget_s"),
                device=a.get("device"),
                candidate_version_id=a.get("candidate_version_id"),
                decision=None if not a.get("decision") else Decision.model_validate(a["decision"]).summary(),
            )
            for a in state.get("attempts", [])
        )
        passed = next((a for a in state.get("attempts", []) if a.get("outcome") == "passed"), None)
        original_summary = new_summary = None
        report = None
        if passed is not None:
            path = self._artifacts(job).verification(int(passed["index"]))
            report = VerificationReport.model_validate_json(path.read_text()) if path.exists() else None
        with self.ledger.session(write=False) as session:
            due = jobq.count_due(session)
            statuses = {rid: reqs.get(session, rid).status for rid in state.get("request_ids", [])}
            if state.get("original_version_id"):
                orig = registry.get_model_version(session, int(state["original_version_id"]))
                original_summary = _summary(orig, report, "original")
            if passed is not None:
                new = registry.get_model_version(session, int(passed["candidate_version_id"]))
                new_summary = _summary(new, report, "unlearned")
        return BatchResult(
            status="completed" if job.status == "completed" else "failed",
            model=job.model_name,
            job_id=job.job_id,
            policy=job.policy_id,
            resumed=resumed,
            request_ids=tuple(state.get("request_ids", [])),
            completed_request_ids=tuple(r for r, s in statuses.items() if s == "completed"),
            no_data_request_ids=tuple(r for r, s in statuses.items() if s == "no_data"),
            failed_request_ids=tuple(r for r, s in statuses.items() if s == "failed"),
            forget_examples=int(state.get("forget_count", 0)),
            forget_merkle_root=state.get("forget_merkle_root"),
            attempts=attempts,
            method=None if passed is None else str(passed["method"]),
            retrain_estimate_s=None if passed is None else passed.get("retrain_estimate_s"),
            unlearning_time_s=None if passed is None else passed.get("wall_time_s"),
            original_model=original_summary,
            new_model=new_summary,
            decision_passed=None if not attempts else passed is not None,
            certificate_path=state.get("certificate_path"),
            remaining_due=due,
            message=job.error or "",
        )


def _union(a: FaceTensors, b: FaceTensors) -> FaceTensors:
    """Rows of both, sorted by example id (a stable pool for the shadow bank)."""
    import torch

    ids = (*a.example_ids, *b.example_ids)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    both = FaceTensors(
        images=torch.cat([a.images, b.images]),
        labels=torch.cat([a.labels, b.labels]),
        ages=torch.cat([a.ages, b.ages]),
        example_ids=ids,
    )
    return both.take(order)


def _summary(record: ModelVersionRecord, report: VerificationReport | None, role: str) -> ModelSummary:
    figures: dict[str, float | None] = {}
    if report is not None:
        evidence = report.unlearned if role == "unlearned" else report.original
        acc = (
            report.utility.unlearned.accuracy
            if role == "unlearned"
            else (report.utility.original.accuracy if report.utility.original is not None else {})
        )
        figures = {
            "attack_auc": None if evidence is None else evidence.loss_attack.auc,
            "holdout_accuracy": acc["holdout"].value if "holdout" in acc else None,
            "retain_accuracy": acc["retain"].value if "retain" in acc else None,
            "test_accuracy": acc["test"].value if "test" in acc else None,
        }
    return ModelSummary(
        version_id=record.model_version_id, version=record.version, digest=record.weights_digest, **figures
    )
