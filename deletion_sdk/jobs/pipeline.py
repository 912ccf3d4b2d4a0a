"""The batch deletion job: claim, resolve, unlearn, verify, decide, promote, certify, complete.

Every step commits its outcome (and its audit events) to the ledger before the next begins, so a job
killed at any point is resumed by the next ``run_batch`` for the same model, from the step it was at:
finished steps are not redone, no second certificate or model version is made, and the deployed model
is untouched until the promotion step. Only one job per model runs at a time (unlearning chains on the
deployed version); a second worker finds the model busy, or takes over a job whose worker died.

The job runs in one explicit :class:`~deletion_sdk.context.Context` (settings, home layout, policy
resolver) and pins the policy it was claimed under: every step, the decision and the certificate use
that pinned policy and its digest. A policy file edited while the job runs is reported (progress
message, log warning, ``job.policy_changed`` audit event), never silently used. Every file a step reads
back (the forget-set manifest, the verification report) is checked against the SHA-256 recorded when it
was written; a mismatch (or any other integrity failure) fails the job with the reason, before anything
is promoted or certified on the strength of that file.

Steps (:class:`~deletion_sdk.ledger.job_state.Step`) and the requests' statuses::

    resolve   forget set from the ledger; subjects suppressed; requests with no data -> no_data
    unlearn   scheduled/verifying -> unlearning; method = policy.methods[attempt]; candidate version saved
    verify    unlearning -> verifying; evidence at the policy's tier
    decide    policy evaluation; fail -> candidate rejected, next method (finally retrain), or job failed
    promote   candidate -> deployed, previous -> superseded
    erase     the people's source files, old versions' weights, shadow banks and caches deleted
              (deletion_sdk.erasure.job); one audit event per erased artifact
    certify   audit entry, signed checkpoint, inclusion proof, DSSE-signed in-toto certificate
    complete  certificate file written; verifying -> completed; job completed
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlmodel import Session

from deletion_sdk.attest.keys import Signer
from deletion_sdk.audit import AuditLog
from deletion_sdk.context import Context
from deletion_sdk.data import AgeBins
from deletion_sdk.erasure.evidence import erased_artifacts
from deletion_sdk.erasure.job import ErasureRun, erase_due_retired_weights
from deletion_sdk.erasure.status import job_obligations
from deletion_sdk.errors import (
    BudgetExceeded,
    ConflictError,
    ErasureError,
    IntegrityError,
    JobError,
)
from deletion_sdk.jobs._checks import _check_override, _fault_point, _read_checked, _write_json
from deletion_sdk.jobs._shared import (
    attempt_seed,
    decide,
    jsonable_params,
    population_evidence,
    shadow_pool,
)
from deletion_sdk.jobs.certify import issue_certificate, write_issued_certificate
from deletion_sdk.jobs.failure import stop_job_on_error
from deletion_sdk.jobs.models import JobSets, load_job_sets, load_model_version, training_set_root
from deletion_sdk.jobs.results import BatchResult
from deletion_sdk.jobs.summarise import summarise_job
from deletion_sdk.layout import JobArtifacts
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.job_state import Attempt, AttemptOutcome, ErasureProgress, JobState, Step
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.logging import get_logger
from deletion_sdk.policy import ExactRetraining, Policy
from deletion_sdk.training import CheckpointMetadata, LoadedCheckpoint, save_checkpoint
from deletion_sdk.unlearning import UnlearningContext, run_unlearner, unlearner_provenance
from deletion_sdk.unlearning.budget import retrain_time_s
from deletion_sdk.verification import VerificationReport

__all__ = ["STEPS", "BatchRunner"]

STEPS = tuple(Step)
_S = RequestStatus
_Job = jobq.JobRecord


class BatchRunner:
    """Runs (or resumes) one batch job for one model.

    Args:
        ledger: the ledger (with the audit log installed as its event sink).
        context: the deployment's settings, home layout and policy resolver.
        audit: the audit log, with the signing key.
        signer: the certificate signing key.
        progress: called with a short message at every step (the CLI shows them).
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        context: Context,
        audit: AuditLog,
        signer: Signer,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.context = context
        self.audit = audit
        self.signer = signer
        self.progress = progress or (lambda _msg: None)
        self.worker = jobq.current_worker()
        self.bins = AgeBins()
        self._steps: dict[Step, Callable[[_Job], _Job]] = {
            Step.RESOLVE: self._step_resolve,
            Step.UNLEARN: self._step_unlearn,
            Step.VERIFY: self._step_verify,
            Step.DECIDE: self._step_decide,
            Step.PROMOTE: self._step_promote,
            Step.ERASE: self._step_erase,
            Step.CERTIFY: self._step_certify,
            Step.COMPLETE: self._step_complete,
        }

    # -- claiming ----------------------------------------------------------------------------------

    def _acquire(
        self, *, model: str, policy_id: str | None, max_requests: int | None, unlearner: str | None
    ) -> tuple[_Job | None, bool, str | None]:
        """(job, resumed, busy job id) — one transaction, serialised per model.

        A new job pins its policy (and the unlearner override) in its state in the claiming transaction.
        """
        with self.ledger.session() as session:
            jobq.lock_model(session, model)
            stale = jobq.claim_stale_job(session, model_name=model, worker=self.worker)
            if stale is not None:
                emit(session, "job.resumed", {"job_id": stale.job_id, "step": stale.step}, actor=self.worker)
                if stale.state.policy is None:  # a job written before policies were pinned
                    pinned = stale.state.model_copy(
                        update={"policy": self.context.policies.get(stale.policy_id)}
                    )
                    stale = self._update(stale, session, state=pinned)
                return stale, True, None
            running = jobq.list_jobs(session, model_name=model, status="running")
            if running:
                return None, False, running[0].job_id
            registry.deployed(session, model)  # NotFoundError before anything is claimed
            job = jobq.claim_new_job(
                session, model_name=model, policy_id=policy_id, max_requests=max_requests, worker=self.worker
            )
            if job is None:
                return None, False, None
            policy = self.context.policies.get(job.policy_id)
            _check_override(unlearner, policy)  # raising here rolls the claim back: nothing is taken
            job = self._update(job, session, state=JobState(policy=policy, unlearner_override=unlearner))
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

    def _report_policy_drift(self, job: _Job, reported: set[str | None]) -> None:
        """Say so (once per file version) when the pinned policy's file changed; the job keeps the pin."""
        drift = self.context.policies.drift(self._policy(job))
        if drift is None or drift.current_digest in reported:
            return
        reported.add(drift.current_digest)
        get_logger(__name__).warning(
            "policy_changed",
            job_id=job.job_id,
            policy=drift.policy_id,
            pinned_digest=drift.pinned_digest,
            current_digest=drift.current_digest,
        )
        self.progress(drift.detail)
        with self.ledger.session() as session:
            emit(
                session,
                "job.policy_changed",
                {
                    "job_id": job.job_id,
                    "policy": drift.policy_id,
                    "pinned_digest": drift.pinned_digest,
                    "current_digest": drift.current_digest,
                },
                actor=f"job:{job.job_id}",
            )

    def run(
        self,
        *,
        model: str,
        policy: str | None = None,
        unlearner: str | None = None,
        max_requests: int | None = None,
    ) -> BatchResult:
        """Claim (or resume) this model's job and run it to the end."""
        if policy is not None:  # unknown policy or unlisted method: InputError before anything is claimed
            _check_override(unlearner, self.context.policies.get(policy))
        erase_due_retired_weights(self.ledger, self.context.layout, progress=self.progress)
        job, resumed, busy = self._acquire(
            model=model, policy_id=policy, max_requests=max_requests, unlearner=unlearner
        )
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
        self.progress(f"job {job.job_id} {'resumed at ' + job.step if resumed else 'claimed'}")
        reported: set[str | None] = set()
        while job.step is not Step.DONE:
            step = job.step
            self._report_policy_drift(job, reported)
            _fault_point(f"{step}:before")
            try:
                job = self._steps[step](job)
            except IntegrityError as e:
                job = self._fail(job, f"integrity check failed at {step}: {e}")
            except ErasureError as e:
                job = self._fail(job, f"erasure failed: {e}")
            except Exception as e:  # never leave the job stuck: see jobs.failure
                job = stop_job_on_error(
                    self.ledger,
                    job,
                    e,
                    step=step,
                    worker=self.worker,
                    progress=self.progress,
                    seal=lambda session: self.audit.seal(session=session, strict=False),
                )
                break
            _fault_point(f"{step}:after")
        return summarise_job(self.ledger, self.context.layout, job, resumed=resumed)

    # -- helpers -----------------------------------------------------------------------------------

    def _update(
        self,
        job: _Job,
        session: Session | None = None,
        *,
        state: JobState | None = None,
        step: Step | None = None,
        attempt: int | None = None,
        status: str | None = None,
        error: str | None = None,
    ) -> _Job:
        if session is None:
            with self.ledger.session() as s:
                return self._update(
                    job, s, state=state, step=step, attempt=attempt, status=status, error=error
                )
        return jobq.update_job(
            session,
            job.job_id,
            worker=self.worker,
            state=state,
            step=step,
            attempt=attempt,
            status=status,
            error=error,
        )

    def _fail(self, job: _Job, reason: str) -> _Job:
        """Stop the job: its open requests fail with ``reason`` (they may be scheduled again later)."""
        self.progress(f"job failed: {reason}")
        get_logger(__name__).error("job_failed", job_id=job.job_id, reason=reason)
        with self.ledger.session() as session:
            current = jobq.get_job(session, job.job_id)
            open_ids = tuple(
                rid
                for rid in current.state.active_request_ids or jobq.job_request_ids(session, job.job_id)
                if reqs.get(session, rid).status in (_S.SCHEDULED, _S.UNLEARNING, _S.VERIFYING)
            )
            self._move(session, job, open_ids, _S.FAILED, reason)
            emit(session, "job.failed", {"job_id": job.job_id, "reason": reason}, actor=f"job:{job.job_id}")
            done = self._update(job, session, step=Step.DONE, status="failed", error=reason)
            self.audit.seal(session=session, strict=False)  # a failed job ends with a signed checkpoint too
            return done

    def _artifacts(self, job: _Job) -> JobArtifacts:
        return self.context.layout.job(job.job_id)

    def _policy(self, job: _Job) -> Policy:
        """The policy pinned when the job was claimed."""
        if job.state.policy is None:
            raise JobError(f"batch job {job.job_id} has no pinned policy")
        return job.state.policy

    def _methods(self, job: _Job) -> tuple[str, ...]:
        override = job.state.unlearner_override
        if override:
            return (override,) if override == "retrain" else (override, "retrain")
        return self._policy(job).unlearning.methods

    def _move(
        self, session: Session, job: _Job, ids: tuple[str, ...], to: RequestStatus, reason: str
    ) -> None:
        for rid in ids:
            if reqs.get(session, rid).status != to.value:
                reqs.transition(session, request_id=rid, to=to, actor=f"job:{job.job_id}", reason=reason)

    def _original(self, job: _Job) -> ModelVersionRecord:
        if job.state.original_version_id is None:
            raise JobError(f"batch job {job.job_id} has not resolved its original model")
        with self.ledger.session(write=False) as session:
            return registry.get_model_version(session, job.state.original_version_id)

    def _sets(self, job: _Job, original: ModelVersionRecord, image_size: int) -> JobSets:
        """The forget set, retain set, holdout and test sets of the original model's training data."""
        path = self._artifacts(job).forget_manifest()
        if job.state.forget_manifest_sha256 is None:  # claimed by 0.1: the digest is only in the audit log
            data = path.read_bytes()
        else:
            data = _read_checked(path, job.state.forget_manifest_sha256, "forget-set manifest")
        forget_ids = json.loads(data)["example_ids"]
        return load_job_sets(
            self.ledger,
            self.context.layout,
            original=original,
            forget_ids=frozenset(forget_ids),
            image_size=image_size,
            bins=self.bins,
            master_key=self.context.master_key,
        )

    def _retrain_estimate(
        self, job: _Job, original: ModelVersionRecord, loaded: LoadedCheckpoint, sets: JobSets
    ) -> float | None:
        """An earlier attempt's figure, else the recorded training time when it applies here, else a probe."""
        earlier = next((a.retrain_estimate_s for a in job.state.attempts if a.retrain_estimate_s), None)
        if earlier is not None:
            return earlier
        return retrain_time_s(
            metrics=original.metrics,
            model=loaded.model,
            retain=sets.retain,
            train_config=loaded.metadata.train_config,
            device=self.context.device,
        )

    def _seed(self, job: _Job, attempt: int) -> int:
        return attempt_seed(self.context.settings.seed, job.state.forget_merkle_root, attempt)

    def _report(self, job: _Job) -> VerificationReport:
        """The current attempt's verification report, as recorded (its digest is checked)."""
        path = self._artifacts(job).verification(job.attempt)
        return VerificationReport.model_validate_json(
            _read_checked(path, job.state.verification_sha256, "verification report")
        )

    # -- steps -------------------------------------------------------------------------------------

    def _step_resolve(self, job: _Job) -> _Job:
        self.progress("resolving the forget set")
        with self.ledger.session() as session:
            original = registry.deployed(session, job.model_name)
            if original.dataset_id is None:
                raise JobError(f"deployed model {job.model_name} names no training dataset")
            request_ids = tuple(jobq.job_request_ids(session, job.job_id))
            manifest = lineage.resolve_forget_set(
                session, request_ids=list(request_ids), dataset=original.dataset_id, split="train"
            )
            no_data = tuple(manifest.no_data_request_ids)
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
            active = tuple(r for r in request_ids if r not in set(no_data))
            emit(
                session,
                "forget_set.resolved",
                {
                    "job_id": job.job_id,
                    "examples": manifest.count,
                    "merkle_root": manifest.merkle_root,
                    "manifest_sha256": digest,
                    "no_data_request_ids": list(no_data),
                },
                actor=f"job:{job.job_id}",
            )
            state = job.state.model_copy(
                update={
                    "original_version_id": original.model_version_id,
                    "request_ids": request_ids,
                    "active_request_ids": active,
                    "no_data_request_ids": no_data,
                    "forget_count": manifest.count,
                    "forget_merkle_root": manifest.merkle_root,
                    "forget_manifest_sha256": digest,
                    "attempts": (),
                }
            )
            next_step = Step.UNLEARN if manifest.count > 0 and active else Step.COMPLETE
            return self._update(job, session, state=state, step=next_step)

    def _step_unlearn(self, job: _Job) -> _Job:
        index = job.attempt
        methods = self._methods(job)
        method = methods[index]
        with self.ledger.session() as session:
            self._move(session, job, job.state.active_request_ids, _S.UNLEARNING, f"unlearning with {method}")
        original = self._original(job)
        loaded = load_model_version(original, device="cpu", layout=self.context.layout)
        meta = loaded.metadata
        sets = self._sets(job, original, meta.image_size)
        estimate = self._retrain_estimate(job, original, loaded, sets)
        fraction = self._policy(job).unlearning.time_budget_fraction
        context = UnlearningContext(
            device=self.context.device,
            seed=self._seed(job, index),
            retrain_time_s=estimate if method != "retrain" else None,
            budget_fraction=fraction if (method != "retrain" and estimate) else None,
            train_config=meta.train_config,
        )
        self.progress(
            f"unlearning {len(sets.forget)} examples with {method} (attempt {index + 1}/{len(methods)})"
        )
        provenance = unlearner_provenance(method)
        attempt = Attempt(
            index=index,
            method=method,
            retrain_estimate_s=estimate,
            unlearner_class=provenance.class_path,
            unlearner_source=provenance.source,
            code_sha256=provenance.code_sha256,
        )
        try:
            result = run_unlearner(
                method, loaded.model, forget=sets.forget, retain=sets.retain, context=context
            )
        except BudgetExceeded as e:
            failed = attempt.model_copy(
                update={
                    "outcome": AttemptOutcome.BUDGET_EXCEEDED,
                    "wall_time_s": e.elapsed_s,
                    "budget_s": e.budget_s,
                    "error": str(e),
                }
            )
            return self._next_attempt(job, failed, reason=f"{method} ran out of its time budget")
        retain_root = training_set_root(sets.splits.train_rows)
        saved = save_checkpoint(
            result.model,
            self._artifacts(job).candidate_dir(index),
            metadata=CheckpointMetadata(
                architecture=meta.architecture,
                num_classes=meta.num_classes,
                image_size=meta.image_size,
                train_config=meta.train_config,
                training_root=retain_root,
                n_training_examples=len(sets.retain),
                age_bins=meta.age_bins,
                parent_digest=original.weights_digest,
                extra={"job_id": job.job_id, "unlearner": method},
            ),
        )
        _fault_point("unlearn:saved")  # weights written, version not yet registered
        exact = None
        if method == "retrain":  # what ran, and on what data: the decision judges the claim, not the name
            exact = ExactRetraining(
                unlearner_class=provenance.class_path,
                retrained_training_root=retain_root,
                forget_merkle_root=job.state.forget_merkle_root or "",
                overlap=len(set(sets.forget.example_ids) & set(sets.retain.example_ids)),
            )
        with self.ledger.session() as session:
            candidate = registry.add_model_version(
                session,
                name=original.name,
                weights_digest=saved.digest,
                architecture=meta.architecture,
                path=self.context.layout.stored_path(saved.weights_path),
                dataset_id=original.dataset_id,
                training_root=retain_root,
                parent_id=original.model_version_id,
                metrics={"retrain_estimate_s": estimate, "unlearner": method, "job_id": job.job_id},
            )
            attempt = attempt.model_copy(
                update=dict(
                    method_version=result.version,
                    params=jsonable_params(result.params),
                    wall_time_s=result.wall_time_s,
                    budget_s=result.budget_s,
                    device=result.device,
                    steps=result.steps,
                    candidate_version_id=candidate.model_version_id,
                    exact=exact,
                )
            )
            return self._update(job, session, state=job.state.with_attempt(attempt), step=Step.VERIFY)

    def _next_attempt(self, job: _Job, attempt: Attempt, *, reason: str) -> _Job:
        """Record a failed attempt and move to the next method, or fail the job."""
        state = job.state.with_attempt(attempt)
        methods = self._methods(job)
        active = job.state.active_request_ids
        with self.ledger.session() as session:
            if attempt.candidate_version_id is not None:
                registry.set_status(session, attempt.candidate_version_id, "rejected")
            if job.attempt + 1 < len(methods):
                following = methods[job.attempt + 1]
                self._move(session, job, active, _S.UNLEARNING, f"{reason}; escalating to {following}")
                return self._update(job, session, state=state, attempt=job.attempt + 1, step=Step.UNLEARN)
            self._move(session, job, active, _S.FAILED, f"{reason}; no allowed method left")
            emit(session, "job.failed", {"job_id": job.job_id, "reason": reason}, actor=f"job:{job.job_id}")
            done = self._update(job, session, state=state, step=Step.DONE, status="failed", error=reason)
            self.audit.seal(session=session, strict=False)  # a failed job ends with a signed checkpoint too
            return done

    def _step_verify(self, job: _Job) -> _Job:
        attempt = job.state.current_attempt
        if attempt.candidate_version_id is None:
            raise JobError(f"batch job {job.job_id}: attempt {attempt.index + 1} saved no candidate")
        with self.ledger.session() as session:
            self._move(
                session, job, job.state.active_request_ids, _S.VERIFYING, f"verifying {attempt.method}"
            )
            candidate = registry.get_model_version(session, attempt.candidate_version_id)
        original = self._original(job)
        loaded = load_model_version(original, device="cpu", layout=self.context.layout)
        unlearned = load_model_version(candidate, device="cpu", layout=self.context.layout)
        sets = self._sets(job, original, loaded.metadata.image_size)
        tier = self._policy(job).verification.tier.value
        n_forget, n_holdout = len(sets.forget), len(sets.splits.holdout)
        self.progress(f"verifying at tier '{tier}' ({n_forget} forget vs {n_holdout} holdout examples)")
        report = population_evidence(
            unlearned.model,
            original=loaded.model,
            sets=sets,
            policy=self._policy(job),
            device=self.context.device,
            seed=self._seed(job, job.attempt),
            bins=self.bins,
        )
        if tier != "population":
            from deletion_sdk.jobs.evidence import per_example_evidence

            recipe = loaded.metadata.train_config
            if recipe is None:
                raise JobError(
                    f"model {original.name} v{original.version} records no training recipe; the "
                    f"'{tier}' tier trains shadow models the same way and cannot run without one"
                )

            self.progress(
                f"per-example LiRA against the shadow bank of v{original.version} (built once per version)"
            )
            report = per_example_evidence(
                report,
                unlearned=unlearned.model,
                original=loaded.model,
                forget=sets.forget,
                pool=shadow_pool(sets.retain, sets.forget),
                original_digest=original.weights_digest,
                config=recipe,
                context=self.context,
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
            state = job.state.model_copy(update={"verification_sha256": digest})
            return self._update(job, session, state=state, step=Step.DECIDE)

    def _step_decide(self, job: _Job) -> _Job:
        attempt = job.state.current_attempt
        policy = self._policy(job)
        decision, qualification_digest = decide(
            policy,
            self._report(job),
            method=attempt.method,
            code_sha256=attempt.code_sha256,
            params=attempt.params,
            qualification_dir=self.context.layout.qualification,
            exact=attempt.exact,
        )
        decided = attempt.model_copy(
            update={
                "qualification_report_digest": qualification_digest,
                "decision": decision,
                "outcome": AttemptOutcome.PASSED
                if decision.passed
                else AttemptOutcome.INCONCLUSIVE
                if decision.inconclusive
                else AttemptOutcome.FAILED,
            }
        )
        self.progress(f"decision: {decision.summary()}")
        with self.ledger.session() as session:
            emit(
                session,
                "decision.made",
                {
                    "job_id": job.job_id,
                    "attempt": job.attempt,
                    "method": attempt.method,
                    "policy": decision.policy_id,
                    "policy_digest": decision.policy_digest,
                    "passed": decision.passed,
                    "outcome": decision.outcome,
                    "failed_checks": [c.name for c in decision.failed_checks],
                },
                actor=f"job:{job.job_id}",
            )
            if decision.passed:
                return self._update(job, session, state=job.state.with_attempt(decided), step=Step.PROMOTE)
        verdict = "was inconclusive" if decision.inconclusive else "failed verification"
        return self._next_attempt(job, decided, reason=f"{attempt.method} {verdict}: {decision.summary()}")

    def _passed_candidate(self, job: _Job) -> int:
        attempt = job.state.current_attempt
        if attempt.outcome is not AttemptOutcome.PASSED or attempt.candidate_version_id is None:
            raise JobError(f"batch job {job.job_id}: attempt {attempt.index + 1} has no passed candidate")
        return attempt.candidate_version_id

    def _step_promote(self, job: _Job) -> _Job:
        candidate_id = self._passed_candidate(job)
        self._report(job)  # the evidence the decision rested on is still the file that was decided on
        with self.ledger.session() as session:
            current = registry.deployed(session, job.model_name)
            if current.model_version_id != candidate_id:
                if current.model_version_id != job.state.original_version_id:
                    raise ConflictError(
                        f"model {job.model_name} was redeployed (v{current.version}) during job {job.job_id}"
                    )
                registry.mark_deployed(session, candidate_id)
            self.progress("promoted the unlearned model to deployed")
            return self._update(job, session, step=Step.ERASE)

    def _step_erase(self, job: _Job) -> _Job:
        self.progress("erasing their data: source files, old versions' weights, shadow banks, caches")
        current = [job]

        def save(progress: ErasureProgress) -> None:
            state = current[0].state.model_copy(update={"erasure": progress})
            current[0] = self._update(current[0], state=state)

        with self.ledger.session(write=False) as session:
            refs = tuple(sorted({reqs.get(session, rid).subject_ref for rid in job.state.request_ids}))
        grace = self._policy(job).erasure.retired_weights_grace_days
        ErasureRun(
            self.ledger,
            self.context.layout,
            job.job_id,
            refs,
            grace,
            save,
            _fault_point,
            master_key=self.context.master_key,
        ).run(job.state.erasure)
        return self._update(current[0], step=Step.CERTIFY)

    def _step_certify(self, job: _Job) -> _Job:
        self.progress("signing the certificate")
        original = self._original(job)
        attempt = job.state.current_attempt
        candidate_id = self._passed_candidate(job)
        if job.state.verification_sha256 is None or job.state.forget_merkle_root is None:
            raise JobError(f"batch job {job.job_id} reached certify without verification evidence")
        with self.ledger.session() as session:
            candidate = registry.get_model_version(session, candidate_id)
            requests = [reqs.get(session, rid) for rid in job.state.active_request_ids]
        report = self._report(job)
        with self.ledger.session() as session:
            issued = issue_certificate(
                session,
                audit=self.audit,
                signer=self.signer,
                job_id=job.job_id,
                requests=requests,
                policy=self._policy(job),
                forget_count=job.state.forget_count,
                forget_root=job.state.forget_merkle_root,
                original=original,
                unlearned=candidate,
                attempt=attempt,
                earlier=job.state.attempts[:-1],
                report=report,
                report_sha256=job.state.verification_sha256,
                directory=self.context.layout.certificates,
                qualification_report_digest=attempt.qualification_report_digest,
                erased=erased_artifacts(session, job_id=job.job_id),
                obligations=job_obligations(session, job.job_id, job.state.erasure),
            )
            jobq.record_certificate(
                session,
                job_id=job.job_id,
                model_version_id=candidate.model_version_id,
                path=self.context.layout.stored_path(issued.path),
                payload_sha256=issued.payload_sha256,
                key_id=self.signer.key_id,
                audit_index=issued.audit_index,
                issued_at=issued.issued_at,
            )
            stored = self.context.layout.stored_path(issued.path)  # relative to HOME: HOME can move
            state = job.state.model_copy(
                update={"certificate_envelope": issued.envelope_json, "certificate_path": stored}
            )
            return self._update(job, session, state=state, step=Step.COMPLETE)

    def _step_complete(self, job: _Job) -> _Job:
        envelope, path = job.state.certificate_envelope, job.state.certificate_path
        if envelope and path:
            write_issued_certificate(envelope, self.context.layout.artifact(path))
        _fault_point("complete:written")  # certificate on disk, requests not yet completed
        with self.ledger.session() as session:
            self._move(
                session, job, job.state.active_request_ids, _S.COMPLETED, "forgotten, verified and certified"
            )
            emit(session, "job.completed", {"job_id": job.job_id}, actor=f"job:{job.job_id}")
            done = self._update(job, session, step=Step.DONE, status="completed")
            self.audit.seal(
                session=session
            )  # a signed checkpoint closes the job: nothing it wrote is unsigned
            return done
