"""Assemble a job's :class:`~deletion_sdk.report.ReportData` from the ledger and the job's files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from deletion_sdk.context import Context
from deletion_sdk.erasure.summary import erasure_info
from deletion_sdk.layout import HomeLayout, JobArtifacts
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import registry
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.job_state import Attempt, AttemptOutcome, JobState
from deletion_sdk.ledger.records import HistoryEntry, ModelVersionRecord, RequestRecord
from deletion_sdk.report import (
    AttemptInfo,
    AuditInfo,
    CertificateInfo,
    ForgetSetInfo,
    JobInfo,
    ModelRef,
    ModelsInfo,
    ReportData,
    RequestEvent,
    RequestInfo,
    ResultModelRef,
)
from deletion_sdk.verification import VerificationReport

__all__ = ["build_report_data"]


def _deadline_met(record: RequestRecord, now: datetime) -> bool | None:
    if record.completed_at is not None:
        return record.completed_at <= record.due_at
    return False if now > record.due_at else None


def _train_config(model: ModelVersionRecord, home: HomeLayout) -> dict[str, Any]:
    """The training configuration recorded beside a model version's weights (empty when unreadable)."""
    if not model.path:
        return {}
    try:
        doc = json.loads(home.artifact(model.path).with_suffix(".json").read_text(encoding="utf-8"))
        config = doc["metadata"]["train_config"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return dict(config) if isinstance(config, dict) else {}


def _registered(attempt: Attempt) -> tuple[str | None, dict[str, Any]]:
    """(version, default parameters) of the unlearner registered under the attempt's method, when it is
    the class that ran (a differently registered class would describe code that did not run)."""
    from deletion_sdk.errors import RegistryError
    from deletion_sdk.unlearning import get_unlearner

    try:
        cls = get_unlearner(attempt.method)
    except RegistryError:
        return None, {}
    if attempt.unlearner_class and attempt.unlearner_class != f"{cls.__module__}.{cls.__qualname__}":
        return None, {}
    return str(cls.version), cls.Params().model_dump(mode="json")


def _params(attempt: Attempt, defaults: dict[str, Any], train_config: dict[str, Any]) -> dict[str, Any]:
    """The parameters it ran with; a parameter left to default (None) shows the value it took, which for
    retraining's ``epochs`` is the original training's."""
    params = {**defaults, **attempt.params}
    return {
        key: train_config[key] if value is None and train_config.get(key) is not None else value
        for key, value in params.items()
    }


def _attempt(attempt: Attempt, artifacts: JobArtifacts, train_config: dict[str, Any]) -> AttemptInfo:
    path = artifacts.verification(attempt.index)
    outcome = attempt.outcome
    version, defaults = _registered(attempt)
    return AttemptInfo(
        index=attempt.index + 1,
        method=attempt.method,
        method_version=attempt.method_version or version or "not recorded",
        params=_params(attempt, defaults, train_config),
        wall_time_s=attempt.wall_time_s or 0.0,
        retrain_estimate_s=attempt.retrain_estimate_s or None,
        budget_s=attempt.budget_s or None,
        device=attempt.device or "not recorded",
        outcome=outcome.final,
        decision=attempt.decision,
        verification=VerificationReport.model_validate_json(path.read_text()) if path.is_file() else None,
        note=None
        if outcome is not AttemptOutcome.BUDGET_EXCEEDED
        else "stopped: the method ran out of its time budget",
    )


def build_report_data(ledger: Ledger, context: Context, *, job_id: str, public_key_path: Path) -> ReportData:
    """Everything the privacy officer's page shows about job ``job_id`` (under the job's pinned policy)."""
    now = utcnow()
    with ledger.session(write=False) as session:
        job = jobq.get_job(session, job_id)
        state = job.state
        request_ids = state.request_ids or jobq.job_request_ids(session, job_id)
        records = [reqs.get(session, rid) for rid in request_ids]
        original = (
            registry.get_model_version(session, state.original_version_id)
            if state.original_version_id is not None
            else registry.deployed(session, job.model_name)
        )
        passed = state.passed_attempt
        result = (
            registry.get_model_version(session, passed.candidate_version_id)
            if passed is not None and passed.candidate_version_id is not None
            else None
        )
        certificate = jobq.get_certificate(session, job_id)
        histories = {rid: reqs.history(session, rid) for rid in request_ids}
        erasure = erasure_info(session, job_id, state.erasure) if state.erasure.done else None
    artifacts = context.layout.job(job_id)
    forget = {}
    if artifacts.forget_manifest().is_file():
        forget = json.loads(artifacts.forget_manifest().read_text())
    policy = state.policy or context.policies.get(job.policy_id)
    # The job's new version records the original's configuration too, and outlives the original's files
    # (retired and erased once the people it held are forgotten).
    train_config = (_train_config(result, context.layout) if result is not None else {}) or _train_config(
        original, context.layout
    )
    attempts = tuple(_attempt(a, artifacts, train_config) for a in state.attempts)
    estimate = next((a.retrain_estimate_s for a in attempts if a.retrain_estimate_s), None)
    return ReportData(
        erasure=erasure,
        job=JobInfo(
            job_id=job.job_id,
            model_name=job.model_name,
            policy_id=policy.id,
            policy_title=policy.title,
            status=job.status,
            created_at=job.created_at,
            finished_at=job.finished_at,
            worker=job.worker,
        ),
        requests=tuple(
            RequestInfo(
                request_id=r.request_id,
                subject_ref=r.subject_ref,
                policy_id=r.policy,
                status=r.status,
                received_at=r.received_at,
                due_at=r.due_at,
                completed_at=r.completed_at,
                deadline_met=_deadline_met(r, now),
                extensions=r.extensions,
                history=tuple(_event(h) for h in histories[r.request_id]),
            )
            for r in records
        ),
        forget_set=ForgetSetInfo(
            count=state.forget_count,
            merkle_root=str(state.forget_merkle_root or forget.get("merkle_root") or "0" * 64),
            n_subjects=len(forget.get("subject_refs", [])) - len(forget.get("no_data_subject_refs", [])),
            no_data_request_ids=state.no_data_request_ids,
        ),
        models=ModelsInfo(
            original=ModelRef(name=original.name, version=original.version, digest=original.weights_digest),
            result=None
            if result is None
            else ResultModelRef(
                name=result.name, version=result.version, digest=result.weights_digest, status=result.status
            ),
        ),
        attempts=attempts,
        certificate=None
        if certificate is None
        else CertificateInfo(
            path=certificate.path,
            key_id=certificate.key_id,
            payload_sha256=certificate.payload_sha256,
            public_key_path=str(public_key_path),
        ),
        audit=_audit_info(state),
        retrain_estimate_s=estimate,
        processing_record=policy.processing_record,
    )


def _event(entry: HistoryEntry) -> RequestEvent:
    return RequestEvent(
        at=entry.at,
        from_status=entry.from_status,
        to_status=entry.to_status,
        actor=entry.actor,
        reason=entry.reason,
    )


def _audit_info(state: JobState) -> AuditInfo | None:
    envelope = state.certificate_envelope
    if not envelope:
        return None
    import base64

    payload = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    audit = payload["predicate"]["audit"]
    return AuditInfo(
        tree_size=audit["tree_size"], root_hash=audit["root_hash"], entry_index=audit["entry_index"]
    )
