"""The runnable examples run as written (tiny data, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=900, cwd=EXAMPLES, env=env
    )


def test_quickstart_then_scheduled_batch_job(tmp_path: Path) -> None:
    tour = _run(str(EXAMPLES / "quickstart.py"), str(tmp_path / "tour"))
    assert tour.returncode == 0, tour.stdout[-3000:] + tour.stderr[-3000:]
    assert "certificate verified" in tour.stdout and "audit log verified" in tour.stdout
    # stdout holds only what the example prints itself: the library's logs never reach it
    assert not [line for line in tour.stdout.splitlines() if "[info" in line or line.startswith("{")]
    assert "unlearning.start" not in tour.stdout and "request.submitted" not in tour.stdout
    env = {**os.environ, "DELETION_SDK_HOME": str(tmp_path / "tour" / "home")}
    job = _run(str(EXAMPLES / "batch_job.py"), "--model", "age-predictor", env=env)
    assert job.returncode == 0, job.stderr[-3000:]
    assert json.loads(job.stdout) == {"jobs": [], "exit_code": 0}  # the tour answered every request
    for line in job.stderr.strip().splitlines():
        json.loads(line)  # structured logs: one JSON object per line
    missing = _run(str(EXAMPLES / "batch_job.py"), "--model", "no-such-model", env=env)
    assert missing.returncode == 2


def test_custom_unlearner_runs_through_the_pipeline(tmp_path: Path) -> None:
    out = _run(str(EXAMPLES / "custom_unlearner.py"), str(tmp_path / "custom"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "forget_to_uniform:" in out.stdout
    assert not [line for line in out.stdout.splitlines() if "[info" in line or line.startswith("{")]


def test_service_intake_self_test() -> None:
    out = _run(str(EXAMPLES / "service_intake.py"), "--self-test")
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "FAIL" not in out.stdout
