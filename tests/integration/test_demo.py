"""``deletion-sdk demo --quick``: the whole job end to end, as a new user first runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_quick_demo_runs_end_to_end_and_its_evidence_verifies(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "deletion_sdk.cli", "demo", "--quick", "--workdir", str(tmp_path), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    batch = doc["batch"]
    assert doc["mode"] == "quick" and batch["status"] == "completed"
    assert len(batch["completed_request_ids"]) == doc["plan"]["n_requests"]
    assert len(batch["no_data_request_ids"]) == 1  # the person who was never in the data
    assert doc["checks"]["certificate"]["valid"] and doc["checks"]["audit_log"]["valid"]
    attempts = batch["attempts"]
    assert attempts[-1]["outcome"] == "passed" and batch["method"] == attempts[-1]["method"]
    assert all(a["outcome"] != "passed" for a in attempts[:-1])  # escalation stops at the first pass
    assert Path(batch["certificate_path"]).is_file() and Path(batch["report_path"]).is_file()
