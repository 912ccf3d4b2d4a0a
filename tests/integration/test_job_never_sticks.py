"""Found 6 of the input review, end to end: a job whose deployed weights are missing fails with the reason
and releases its requests; once the weights are back, the next run picks them up and completes."""

from __future__ import annotations

import shutil
from pathlib import Path

from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.sdk import DeletionSDK
from tests.integration.pipeline_workspace import MODEL, Workspace, copy


def test_missing_weights_fail_the_job_and_the_next_run_completes(
    sqlite_template: Workspace, tmp_path: Path, env_for
) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(sqlite_template, tmp_path))
    with DeletionSDK.open() as sdk:
        weights = sdk.layout.artifact(str(sdk.deployed_model(name=MODEL).path))
        aside = tmp_path / "aside.safetensors"
        shutil.move(weights, aside)

        failed = sdk.run_batch(model=MODEL)
        assert failed.status == "failed" and failed.exit_code == 1
        assert "NotFoundError at " in failed.message and "does not exist" in failed.message
        with sdk.ledger.session(write=False) as session:
            (job,) = jobq.list_jobs(session, model_name=MODEL)
        assert job.status == "failed" and job.error == failed.message
        statuses = {sdk.get_request(request_id=r).status for r in ws.request_ids}
        assert statuses == {"verified"}  # due again, not stuck in unlearning
        assert "job.failed" in [e.event.type for e in sdk.audit_log.entries()]

        shutil.move(aside, weights)
        done = sdk.run_batch(model=MODEL)
        assert done.status == "completed", done.message
        assert done.job_id != job.job_id and set(done.completed_request_ids) == set(ws.request_ids)
