"""Assemble a job's :class:`~deletion_sdk.report.ReportData` from the ledger and the job's files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from deletion_sdk.jobs.pipeline import JobArtifacts
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import registry
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.records import RequestRecord
from deletion_sdk.policy import Decision, load_policy
from deletion_sdk.report import (
    AttemptInfo,
    AuditInfo,
    CertificateInfo,
    ForgetSetInfo,
    JobInfo,
    ModelRef,
    ModelsInfo,
    ReportData,
    RequestInfo,
    ResultModelRef,
)
from deletion_sdk.settings import Settings
from deletion_sdk.verification import VerificationReport

__all__ = ["build_report_data"]


def _deadline_met(record: RequestRecord, now: datetime) -> bool | None:
    if record.completed_at is not None:
        return record.completed_at <= record.due_at
    return False if now > record.due_at else None


def _attempt(raw: dict[str, Any], artifacts: JobArtifacts) -> AttemptInfo:
    index = int(raw["index"])
    path = artifacts.verification(index)
    outcome = raw.get("outcome", "error")
    return AttemptInfo(
        index=index + 1,
        method=str(raw["method"]),
        method_version=str(raw.get("method_version") or "n/a"),
        params=dict(raw.get("params") or {}),
        wall_time_s=float(raw.get("wall_time_s") or 0.0),
        retrain_estimate_s=raw.get("retrain_estimate_s") or None,
        device=str(raw.get("device") or "n/a"),
        outcome="error" if outcome == "pending" else outcome,
        decision=Decision.model_validate(raw["decision"]) if raw.get("decision") else None,
        verification=VerificationReport.model_validate_json(path.read_text()) if path.is_file() else None,
        note=None if outcome != "budget_exceeded" else "stopped: the method ran out of its time budget",
    )


def build_report_data(
    ledger: Ledger, settings: Settings, *, job_id: str, public_key_path: Path
) -> ReportData:
    """Everything the privacy officer's page shows about job ``job_id``."""
    now = utcnow()
    with ledger.session(write=False) as session:
        job = jobq.get_job(session, job_id)
        state = job.state
        request_ids = state.get("request_ids") or list(jobq.job_request_ids(session, job_id))
        records = [reqs.get(session, rid) for rid in request_ids]
        original = (
            registry.get_model_version(session, int(state["original_version_id"]))
            if state.get("original_version_id")
            else registry.deployed(session, job.model_name)
        )
        passed = next((a for a in state.get("attempts", []) if a.get("outcome") == "passed"), None)
        result = registry.get_model_version(session, int(passed["candidate_version_id"])) if passed else None
        certificate = jobq.get_certificate(session, job_id)
    artifacts = JobArtifacts(settings.home / "jobs" / job_id)
    forget = {}
    if artifacts.forget_manifest().is_file():
        forget = json.loads(artifacts.forget_manifest().read_text())
    policy = load_policy(job.policy_id, policy_dir=settings.policy_dir)
    attempts = tuple(_attempt(a, artifacts) for a in state.get("attempts", []))
    estimate = next((a.retrain_estimate_s for a in attempts if a.retrain_estimate_s), None)
    return ReportData(
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
            )
            for r in records
        ),
        forget_set=ForgetSetInfo(
            count=int(state.get("forget_count", 0)),
            merkle_root=str(state.get("forget_merkle_root") or forget.get("merkle_root") or "0" * 64),
            n_subjects=len(forget.get("subject_refs", [])) - len(forget.get("no_data_subject_refs", [])),
            no_data_request_ids=tuple(state.get("no_data_request_ids", [])),
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
    )


def _audit_info(state: dict[str, Any]) -> AuditInfo | None:
    envelope = state.get("certificate_envelope")
    if not envelope:
        return None
    import base64

    payload = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    audit = payload["predicate"]["audit"]
    return AuditInfo(
        tree_size=audit["tree_size"], root_hash=audit["root_hash"], entry_index=audit["entry_index"]
    )
