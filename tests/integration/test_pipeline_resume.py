"""SIGKILL the batch job at every step, in a subprocess; the next run finishes the same job.

After the second run: the same job completed, every finished step was kept (the resolved forget set,
the candidates), one candidate version per attempt (none made twice), exactly one certificate and one new
deployed version exist, and until promotion the deployed model was the untouched original.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger import lineage
from deletion_sdk.sdk import DeletionSDK
from tests.integration.pipeline_workspace import MODEL, Workspace, copy

KILL_POINTS = [
    "resolve:before",
    "unlearn:before",
    "unlearn:saved",
    "verify:before",
    "decide:before",
    "promote:before",
    "certify:before",
    "complete:before",
    "complete:written",
]
PROMOTED_BY = {"certify:before", "complete:before", "complete:written"}  # promotion had committed


def _batch(ws: Workspace, kill_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DELETION_SDK_HOME": str(ws.home), "DELETION_SDK_POLICY_DIR": str(ws.policy_dir)}
    env.pop("DELETION_SDK_TEST_KILL_AT", None)
    if kill_at:
        env["DELETION_SDK_TEST_KILL_AT"] = kill_at
    cmd = [
        sys.executable,
        "-m",
        "deletion_sdk.cli",
        "batch",
        "run",
        "--model",
        MODEL,
        "--json",
        "--no-report",
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_pipeline_resumes_after_sigkill(kill_at: str, sqlite_template: Workspace, tmp_path: Path) -> None:
    ws = copy(sqlite_template, tmp_path)
    with DeletionSDK.open(home=ws.home) as sdk:
        original = sdk.deployed_model(name=MODEL)
    original_bytes = HomeLayout(ws.home).artifact(str(original.path)).read_bytes()

    killed = _batch(ws, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    with DeletionSDK.open(home=ws.home) as sdk:
        (job,) = sdk.list_jobs(model=MODEL)
        assert job.status == "running"
        deployed_now = sdk.deployed_model(name=MODEL)
        if kill_at in PROMOTED_BY:
            assert deployed_now.parent_id == original.model_version_id
        else:
            assert deployed_now.model_version_id == original.model_version_id  # untouched until promotion
            assert HomeLayout(ws.home).artifact(str(original.path)).read_bytes() == original_bytes
        versions_before = {v.model_version_id for v in sdk.list_models(name=MODEL)}

    finished = _batch(ws, None)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout)
    assert result["job_id"] == job.job_id and result["resumed"] is True
    assert result["status"] == "completed"

    with DeletionSDK.open(home=ws.home) as sdk:
        (again,) = sdk.list_jobs(model=MODEL)
        assert again.status == "completed"
        versions = sdk.list_models(name=MODEL)
        # the original + one candidate per attempt: no step that had committed was redone
        attempts = result["attempts"]
        assert len(versions) == 1 + len(attempts), [(v.version, v.status) for v in versions]
        assert versions_before <= {v.model_version_id for v in versions}  # nothing of the first run lost
        (new,) = [v for v in versions if v.status == "deployed"]
        assert new.model_version_id == attempts[-1]["candidate_version_id"]
        assert new.parent_id == original.model_version_id
        others = {v.status for v in versions if v.model_version_id != new.model_version_id}
        assert others <= {"retired", "rejected"}  # every older version held the forgotten people
        certificates = sorted((ws.home / "certificates").glob("*.intoto.json"))
        assert [c.name for c in certificates] == [f"{job.job_id}.intoto.json"]
        sdk.verify_certificate(path=certificates[0])
        sdk.verify_audit_log()
        assert {sdk.get_request(request_id=r).status for r in ws.request_ids} == {"completed"}
        assert sdk.get_request(request_id=ws.no_data_request_id).status == "no_data"
        certified = [e for e in sdk.audit_log.entries() if e.event.type == "certificate.issued"]
        assert len(certified) == 1
    assert not HomeLayout(ws.home).artifact(str(original.path)).exists()  # erased with its version


# Every point of the erase step a kill must survive, in the order a run meets them (see erasure.job).
ERASE_KILL_POINTS = [
    "erase:before",
    "erase:files_deleted",  # source files deleted, nothing recorded yet
    "erase:sources",
    "erase:retired",  # versions retired, weights not yet deleted
    "erase:models",
    "erase:planned",  # derived artifacts planned and recorded, none deleted
    "erase:derived_deleted",  # deleted, not yet recorded
]


def test_erase_step_resumes_after_a_kill_at_every_point(sqlite_template: Workspace, tmp_path: Path) -> None:
    """One job killed at each erasure point in turn (each run resumes the last): it finishes, every
    artifact is erased and recorded exactly once, with one audit event each."""
    ws = copy(sqlite_template, tmp_path)
    with DeletionSDK.open(home=ws.home) as sdk:
        original = sdk.deployed_model(name=MODEL)
        refs = {sdk.get_request(request_id=r).subject_ref for r in ws.request_ids}
        with sdk.ledger.session(write=False) as session:
            theirs = [r for r in lineage.dataset_examples(session, dataset="faces") if r.subject_ref in refs]
    for point in ERASE_KILL_POINTS:
        killed = _batch(ws, point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-2000:])
    finished = _batch(ws, None)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout)
    assert result["status"] == "completed" and result["resumed"] is True

    faces = tmp_path / "faces"
    assert theirs and not any((faces / str(r.path)).exists() for r in theirs)
    assert not HomeLayout(ws.home).artifact(str(original.path)).exists()
    with DeletionSDK.open(home=ws.home) as sdk:
        verified = sdk.verify_certificate(path=result["certificate_path"])
        erased = verified.predicate.erased_artifacts or ()
        kinds = [(a.kind, a.digest) for a in erased]
        assert len(kinds) == len(set(kinds))  # nothing twice
        assert {("source_file", r.content_digest) for r in theirs} <= set(kinds)  # nothing forgotten
        assert ("model_weights", original.weights_digest) in kinds
        assert any(k == "tensor_cache" for k, _ in kinds)
        events = [e.event for e in sdk.audit_log.entries() if e.event.type == "artifact.erased"]
        assert sorted((e.data["kind"], e.data["digest"]) for e in events) == sorted(kinds)
        retired_events = [e for e in sdk.audit_log.entries() if e.event.type == "model.retired"]
        held = [v for v in sdk.list_models(name=MODEL) if v.status in ("retired", "rejected")]
        assert len(retired_events) == len(held)
        sdk.verify_audit_log()
        assert sdk.erasure_status(request_id=ws.request_ids[0]).remaining == ()
