"""The batch job end to end on a tiny real deployment (SQLite file, trained tiny_cnn, real keys)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deletion_sdk.errors import AuditLogError, SignatureError
from deletion_sdk.redteam import NoopCheat, registered
from deletion_sdk.sdk import DeletionSDK
from tests.integration.pipeline_workspace import MODEL, Workspace, copy


def _raw_bytes(home: Path) -> bytes:
    out = b""
    for path in sorted(home.rglob("*")):
        if path.is_file() and path.suffix not in (".safetensors",):
            out += path.read_bytes()
    return out


def test_pipeline_end_to_end(sqlite_template: Workspace, tmp_path: Path, env_for, capfd) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(sqlite_template, tmp_path))
    with DeletionSDK.open() as sdk:
        original = sdk.deployed_model(name=MODEL)
        result = sdk.run_batch(model=MODEL)
        assert result.status == "completed", result
        assert set(result.completed_request_ids) == set(ws.request_ids)
        assert result.no_data_request_ids == (ws.no_data_request_id,)
        assert result.forget_examples > 0
        # every request answered
        for rid in ws.request_ids:
            assert sdk.get_request(request_id=rid).status == "completed"
        assert sdk.get_request(request_id=ws.no_data_request_id).status == "no_data"
        # a new version, child of the original, is deployed; the original held them: retired, weights deleted
        deployed = sdk.deployed_model(name=MODEL)
        assert deployed.model_version_id != original.model_version_id
        assert deployed.parent_id == original.model_version_id
        assert sdk.get_model(model_version_id=original.model_version_id).status == "retired"
        assert not sdk.layout.artifact(str(original.path)).exists()
        # the certificate verifies, names the new model, and is bound into the audit log
        verified = sdk.verify_certificate(path=result.certificate_path)
        assert verified.statement.subject[0].digest["sha256"] == deployed.weights_digest
        assert verified.predicate.original_model.digest == original.weights_digest
        assert verified.predicate.forget_set.size == result.forget_examples
        assert {r.request_id for r in verified.predicate.requests} == set(ws.request_ids)
        assert verified.predicate.decision.passed
        log = sdk.verify_audit_log()
        types = [e.event.type for e in sdk.audit_log.entries()]
        report = sdk.write_report(job_id=result.job_id, out=tmp_path / "r.html")
    assert log.tree_size == len(types)
    assert log.unsigned_entries == 0 and types[-1] == "job.completed"  # a signed checkpoint closes the job
    for expected in (
        "request.received",
        "request.status_changed",
        "job.claimed",
        "forget_set.resolved",
        "model.registered",
        "decision.made",
        "model.deployed",
        "certificate.issued",
        "job.completed",
        "subject.suppressed",
        "model.retired",
        "artifact.erased",
    ):
        assert expected in types, expected
    page = report.read_text()
    assert page.count(ws.request_ids[0]) >= 1
    # the privacy officer's page: each request's history, the key's fingerprint, filled-in versions and
    # parameters, and no path of the operator's machine
    assert f'data-history="{ws.request_ids[0]}"' in page and verified.key_id in page
    assert "vn/a" not in page and "=None" not in page and "not recorded in the policy" in page
    assert str(ws.home) not in page and str(tmp_path) not in page
    # nothing raw anywhere under HOME (ledger, WAL, certificates, reports, job files) nor in logs
    blob = _raw_bytes(ws.home)
    logs = "".join(capfd.readouterr())
    for raw in ws.raw_subjects:
        assert raw.encode() not in blob
        assert raw not in logs


def test_tampered_certificate_fails_closed(sqlite_template: Workspace, tmp_path: Path, env_for) -> None:  # type: ignore[no-untyped-def]
    env_for(copy(sqlite_template, tmp_path))
    with DeletionSDK.open() as sdk:
        result = sdk.run_batch(model=MODEL)
        path = Path(str(result.certificate_path))
        envelope = json.loads(path.read_text())
        sig = envelope["signatures"][0]["sig"]
        envelope["signatures"][0]["sig"] = ("A" if sig[0] != "A" else "B") + sig[1:]
        bad = tmp_path / "bad.intoto.json"
        bad.write_text(json.dumps(envelope))
        with pytest.raises(SignatureError):
            sdk.verify_certificate(path=bad)
        # a certificate whose audit event names other content is refused even with a valid signature
        from deletion_sdk.jobs.certify import check_audit_binding

        verified = sdk.verify_certificate(path=path)
        altered = verified.predicate.model_copy(update={"job_id": "another-job"})
        with pytest.raises(AuditLogError):
            check_audit_binding(altered)


def test_escalation_rejects_the_failing_candidate(
    escalate_template: Workspace, tmp_path: Path, env_for
) -> None:  # type: ignore[no-untyped-def]
    env_for(copy(escalate_template, tmp_path))
    with registered(NoopCheat), DeletionSDK.open() as sdk:
        result = sdk.run_batch(model=MODEL)
        assert result.status == "completed"
        assert [a.method for a in result.attempts] == ["noop_cheat", "retrain"]
        assert result.attempts[0].outcome == "failed"
        assert result.attempts[0].decision is not None and "qualification" in result.attempts[0].decision
        assert result.method == "retrain"
        # the no-op candidate failed to show it forgot them: it holds their data, so its weights are deleted
        rejected = sdk.get_model(model_version_id=int(result.attempts[0].candidate_version_id or 0))
        assert rejected.status == "rejected"
        assert not sdk.layout.artifact(str(rejected.path)).exists()
        assert sdk.deployed_model(name=MODEL).model_version_id == result.attempts[1].candidate_version_id
        verified = sdk.verify_certificate(path=str(result.certificate_path))
    # retrain is certified on its proof (the SDK's own class, no forget example in its training set)
    assert verified.predicate.decision.passed
    proof = next(c for c in verified.predicate.decision.checks if c["name"] == "exact_retraining")
    assert proof["passed"] and proof["value"] == 0.0


def test_batch_cli_exit_codes_and_idle(sqlite_template: Workspace, tmp_path: Path, env_for) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(sqlite_template, tmp_path))
    cmd = [sys.executable, "-m", "deletion_sdk.cli", "batch", "run", "--model", MODEL, "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["status"] == "completed" and doc["report_path"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "idle"
    missing = subprocess.run(
        [*cmd[:-3], "--model", "no-such-model"], capture_output=True, text=True, timeout=600
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ") and "no-such-model" in missing.stderr
    assert ws.home.exists()


def test_per_example_tier_runs_lira_against_the_shadow_bank(
    per_example_template: Workspace, tmp_path: Path, env_for, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(per_example_template, tmp_path))
    monkeypatch.setenv("DELETION_SDK_SHADOW_MODELS", "6")
    with DeletionSDK.open() as sdk:
        original = sdk.deployed_model(name=MODEL)
        result = sdk.run_batch(model=MODEL)
        assert result.status == "completed"
        verified = sdk.verify_certificate(path=result.certificate_path)
    figures = verified.predicate.verification.figures
    assert verified.predicate.verification.tier == "per_example"
    assert figures["lira_flagged_fraction"] is not None
    assert figures["lira_excess_flagged_fraction"] is not None
    checks = {c["name"] for c in verified.predicate.decision.checks}
    assert "lira_excess_flagged" in checks
    # the bank was built for the original, which held the forgotten people: erased with it, and certified so
    bank = ws.home / "shadow" / original.weights_digest
    assert not bank.exists()
    erased = verified.predicate.erased_artifacts or ()
    assert ("shadow_bank", original.weights_digest) in {(a.kind, a.digest) for a in erased}
