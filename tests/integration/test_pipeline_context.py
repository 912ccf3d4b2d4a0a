"""The batch job runs in the SDK's explicit context and keeps the policy it was claimed under.

Before v0.2 the pipeline re-read policies from ``DELETION_SDK_POLICY_DIR`` (or a ``Settings()`` built from
the environment) at every step, so ``DeletionSDK.open(settings=Settings(policy_dir=X))`` could not run a
batch under a custom policy, and a policy file edited during a job changed that job half-way.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings
from tests.integration.pipeline_workspace import FAST_POLICY, MODEL, Workspace, copy


def _settings(ws: Workspace) -> Settings:
    return Settings(home=ws.home, policy_dir=ws.policy_dir)


def test_policy_dir_set_in_code_reaches_the_job_and_its_certificate(
    sqlite_template: Workspace, tmp_path: Path
) -> None:
    ws = copy(sqlite_template, tmp_path)
    assert "DELETION_SDK_POLICY_DIR" not in os.environ
    policy_file = ws.policy_dir / "fast-test.yaml"  # a custom id: not a built-in policy
    with DeletionSDK.open(settings=_settings(ws)) as sdk:
        result = sdk.run_batch(model=MODEL)
        assert result.status == "completed", result
        verified = sdk.verify_certificate(path=str(result.certificate_path))
        job = sdk.get_job(job_id=str(result.job_id))
    digest = hashlib.sha256(policy_file.read_bytes()).hexdigest()
    assert verified.predicate.policy.id == "fast-test"
    assert verified.predicate.policy.digest == digest
    assert job.state.policy is not None and job.state.policy.digest == digest


def test_a_policy_edited_mid_job_does_not_change_the_running_job(
    sqlite_template: Workspace, tmp_path: Path
) -> None:
    ws = copy(sqlite_template, tmp_path)
    policy_file = ws.policy_dir / "fast-test.yaml"
    pinned = hashlib.sha256(policy_file.read_bytes()).hexdigest()
    stricter = FAST_POLICY.replace("max_attack_auc: 0.62", "max_attack_auc: 0.5").replace(
        "methods: [finetune, retrain]", "methods: [retrain]"
    )
    messages: list[str] = []

    def progress(message: str) -> None:
        messages.append(message)
        if message.startswith("verifying"):  # the job is past its claim: edit the file under it
            policy_file.write_text(stricter)

    with DeletionSDK.open(settings=_settings(ws)) as sdk:
        result = sdk.run_batch(model=MODEL, progress=progress)
        assert result.status == "completed", result
        verified = sdk.verify_certificate(path=str(result.certificate_path))
        events = [e.event for e in sdk.audit_log.entries()]
    assert hashlib.sha256(policy_file.read_bytes()).hexdigest() != pinned
    # the job's first method comes from the pinned file (the edited one allows only retrain)
    assert result.attempts[0].method == "finetune"
    # every decision used the pinned thresholds and digest
    decisions = [e for e in events if e.type == "decision.made"]
    assert decisions and all(e.data["policy_digest"] == pinned for e in decisions)
    assert verified.predicate.policy.digest == pinned
    auc = next(c for c in verified.predicate.decision.checks if c["name"] == "attack_auc")
    assert auc["threshold"] == 0.62
    # and the change was reported, not silently used
    changed = [e for e in events if e.type == "job.policy_changed"]
    assert len(changed) == 1 and changed[0].data["pinned_digest"] == pinned
    assert any("changed on disk" in m for m in messages)


@pytest.mark.parametrize(
    ("trigger", "promoted"),
    [("decision:", False), ("promoted the unlearned model", True)],
    ids=["before-promote", "before-certify"],
)
def test_a_report_edited_after_verification_fails_the_job(
    sqlite_template: Workspace, tmp_path: Path, trigger: str, promoted: bool
) -> None:
    ws = copy(sqlite_template, tmp_path)

    def progress(message: str) -> None:
        if message.startswith(trigger):
            for report in ws.home.glob("jobs/*/verification-*.json"):
                doc = json.loads(report.read_text())
                doc["figures"]["forget_holdout_auc"] = 0.5  # a friendlier figure for the certificate
                report.write_text(json.dumps(doc))

    with DeletionSDK.open(settings=_settings(ws)) as sdk:
        original = sdk.deployed_model(name=MODEL)
        result = sdk.run_batch(model=MODEL, progress=progress)
        deployed = sdk.deployed_model(name=MODEL)
        statuses = {sdk.get_request(request_id=rid).status for rid in ws.request_ids}
        types = [e.event.type for e in sdk.audit_log.entries()]
    assert result.status == "failed" and result.exit_code == 1
    assert "verification report changed" in result.message
    assert result.certificate_path is None and not list(ws.home.glob("certificates/*"))
    assert "certificate.issued" not in types and "job.failed" in types
    assert statuses == {"failed"}
    assert (deployed.model_version_id != original.model_version_id) is promoted


def test_a_shipped_policy_runs_through_the_pipeline_with_its_real_thresholds(
    gdpr_template: Workspace, tmp_path: Path
) -> None:
    """gdpr-art17 as shipped: whatever method it ends with, the certificate holds only real evidence."""
    from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR

    ws = copy(gdpr_template, tmp_path)
    with DeletionSDK.open(settings=_settings(ws)) as sdk:
        result = sdk.run_batch(model=MODEL)
        assert result.status == "completed", result
        verified = sdk.verify_certificate(path=str(result.certificate_path))
    predicate = verified.predicate
    shipped = hashlib.sha256((BUILTIN_POLICY_DIR / "gdpr-art17.yaml").read_bytes()).hexdigest()
    assert predicate.policy.id == "gdpr-art17" and predicate.policy.digest == shipped
    assert [a.method for a in predicate.attempts] == [a.method for a in result.attempts]
    order = ["margin_shift_distill", "neggrad_plus", "bad_teacher", "retrain"]
    assert [a.method for a in result.attempts] == order[: len(result.attempts)]
    checks = {c["name"]: c for c in predicate.decision.checks}
    if predicate.decision.basis == "checks":  # an approximate method: its evidence had power
        assert checks["forgetting_power"]["passed"] and checks["evidence_not_degenerate"]["passed"]
        assert all(c["passed"] for c in checks.values())
    else:
        assert predicate.unlearner.name == "retrain" and checks["exact_retraining"]["passed"]
    assert predicate.unlearner.code_sha256 is not None and predicate.unlearner.source == "builtin"
