"""A finished (or failed) job as the :class:`~deletion_sdk.jobs.results.BatchResult` callers read."""

from __future__ import annotations

from deletion_sdk.jobs.results import AttemptSummary, BatchResult, ModelSummary
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import registry
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.job_state import Attempt
from deletion_sdk.ledger.records import ModelVersionRecord
from deletion_sdk.verification import VerificationReport

__all__ = ["summarise_job"]


def _attempt_summary(a: Attempt) -> AttemptSummary:
    return AttemptSummary(
        index=a.index,
        method=a.method,
        outcome=a.outcome.final,
        wall_time_s=a.wall_time_s,
        budget_s=a.budget_s,
        device=a.device,
        candidate_version_id=a.candidate_version_id,
        decision=None if a.decision is None else a.decision.summary(),
    )


def summarise_job(ledger: Ledger, layout: HomeLayout, job: jobq.JobRecord, *, resumed: bool) -> BatchResult:
    """The batch result of ``job``: requests by outcome, attempts, the models' figures, the certificate."""
    state = job.state
    passed = state.passed_attempt
    report = None
    if passed is not None:
        path = layout.job(job.job_id).verification(passed.index)
        report = VerificationReport.model_validate_json(path.read_text()) if path.exists() else None
    original_summary = new_summary = None
    with ledger.session(write=False) as session:
        due = jobq.count_due(session)
        statuses = {rid: reqs.get(session, rid).status for rid in state.request_ids}
        if state.original_version_id is not None:
            orig = registry.get_model_version(session, state.original_version_id)
            original_summary = _summary(orig, report, "original")
        if passed is not None and passed.candidate_version_id is not None:
            new = registry.get_model_version(session, passed.candidate_version_id)
            new_summary = _summary(new, report, "unlearned")
    return BatchResult(
        status="completed" if job.status == "completed" else "failed",
        model=job.model_name,
        job_id=job.job_id,
        policy=job.policy_id,
        resumed=resumed,
        request_ids=state.request_ids,
        completed_request_ids=tuple(r for r, s in statuses.items() if s == "completed"),
        no_data_request_ids=tuple(r for r, s in statuses.items() if s == "no_data"),
        failed_request_ids=tuple(r for r, s in statuses.items() if s == "failed"),
        forget_examples=state.forget_count,
        forget_merkle_root=state.forget_merkle_root,
        attempts=tuple(_attempt_summary(a) for a in state.attempts),
        method=None if passed is None else passed.method,
        retrain_estimate_s=None if passed is None else passed.retrain_estimate_s,
        unlearning_time_s=None if passed is None else passed.wall_time_s,
        original_model=original_summary,
        new_model=new_summary,
        decision_passed=None if not state.attempts else passed is not None,
        certificate_path=None
        if state.certificate_path is None
        else str(layout.artifact(state.certificate_path)),
        remaining_due=due,
        message=job.error or "",
    )


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
