"""Two batch workers at once against PostgreSQL never process the same request twice.

Nothing here depends on timing: the deployment records a one-hour retraining estimate, so no method runs
out of its time budget on a loaded machine (which would change the escalation path), and the workers stop
when nothing is due, not at a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from deletion_sdk.sdk import DeletionSDK
from tests.integration.pipeline_workspace import MODEL, build

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKER = Path(__file__).with_name("batch_worker.py")


def test_two_workers_share_the_queue_without_overlap(postgres_url: str, tmp_path: Path) -> None:
    ws = build(tmp_path, database_url=postgres_url, n_requests=6)  # one-hour estimate: candidates inherit it
    env = {
        **os.environ,
        "DELETION_SDK_HOME": str(ws.home),
        "DELETION_SDK_DATABASE_URL": postgres_url,
        "DELETION_SDK_POLICY_DIR": str(ws.policy_dir),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    outs = [tmp_path / "w1.json", tmp_path / "w2.json"]
    logs = [out.with_suffix(".log") for out in outs]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for out, log in zip(outs, logs, strict=True):
            with log.open("wb") as err:  # a file, not a pipe: a chatty worker never blocks on a full pipe
                procs.append(
                    subprocess.Popen([sys.executable, str(WORKER), MODEL, "2", str(out)], env=env, stderr=err)
                )
        for p in procs:
            p.wait()  # no deadline: a worker stops when nothing is due; pytest-timeout is the hang guard
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log.read_text()[-2000:]
    jobs = [job for out in outs for job in json.loads(out.read_text())]
    claimed = [rid for job in jobs for rid in job["requests"]]
    assert len(claimed) == len(set(claimed)), "a request was processed by two jobs"
    assert set(claimed) == {*ws.request_ids, ws.no_data_request_id}
    assert all(job["status"] == "completed" for job in jobs)

    with DeletionSDK.open(home=ws.home, database_url=postgres_url) as sdk:
        with sdk.ledger.session(write=False) as session:
            pairs = session.execute(
                sa.text("SELECT request_id, count(*) FROM job_requests GROUP BY request_id")
            )
            assert all(n == 1 for _, n in pairs)
            certificates = session.execute(sa.text("SELECT count(*) FROM certificates")).scalar_one()
        assert {sdk.get_request(request_id=r).status for r in ws.request_ids} == {"completed"}
        versions = sorted(sdk.list_models(name=MODEL), key=lambda v: v.version)
        # unlearning chained: every new version (a rejected candidate too) derives from the version
        # deployed when it was made, i.e. the last one before it that was not rejected
        deployed = versions[0]
        for child in versions[1:]:
            assert child.parent_id == deployed.model_version_id, (child, deployed)
            if child.status != "rejected":
                deployed = child
        assert deployed.status == "deployed"
        promoted = [v for v in versions[1:] if v.status != "rejected"]
        assert (
            certificates
            == len(promoted)
            == sum(
                1
                for j in jobs
                if j["status"] == "completed" and any(r in ws.request_ids for r in j["requests"])
            )
        )
        sdk.verify_audit_log()
