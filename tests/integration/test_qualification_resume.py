"""A qualification SIGKILLed half-way resumes without retraining a finished model (local and Ray).

A subprocess runs a tiny qualification (N = 6: 12 trainings, then 6 unlearning runs) and is killed by the
test hook ``DELETION_SDK_TEST_KILL_AFTER_TASKS=k`` right after it has stored its k-th result. A second
run finishes it. Every task run appends its key to ``DELETION_SDK_TEST_TASK_LOG``: the second run must not
run any task the first one stored, must run each missing one exactly once, must leave the first run's
files untouched, and must give the report of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deletion_sdk.executor import LocalExecutor, ResultStore
from deletion_sdk.executor.store import KILL_ENV
from deletion_sdk.executor.tasks import TASK_LOG_ENV
from deletion_sdk.verification.qualification import QualificationReport, qualify
from tests.executor_support import (
    CONFIG,
    RAY_SKIP_REASON,
    kill_group,
    make_split,
    ray_available,
    ray_processes,
    wait_gone,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMINGS = {"created_at", "unlearning_time_s", "retrain_time_s", "time_fraction"}
SCRIPT = """
import sys
from deletion_sdk.executor import LocalExecutor, RayExecutor
from deletion_sdk.logging import configure_logging
from deletion_sdk.verification.qualification import qualify
from tests.executor_support import CONFIG, make_split

configure_logging(level="WARNING")
name, directory = sys.argv[1], sys.argv[2]
split = make_split()
executor = LocalExecutor(threads=1) if name == "local" else RayExecutor(workers=2, task_timeout_s=600)
with executor:
    report = qualify(
        "finetune", CONFIG, 6, train=split.train, test=split.test, forget=split.forget, device="cpu",
        params={"epochs": 1}, directory=directory, executor=executor,
    )
print(report.model_dump_json())
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> QualificationReport:
    split = make_split()
    return qualify(
        "finetune", CONFIG, 6, train=split.train, test=split.test, forget=split.forget, device="cpu",
        params={"epochs": 1}, directory=tmp_path_factory.mktemp("ref"), executor=LocalExecutor(threads=1),
    )  # fmt: skip


def _run(
    executor: str, directory: Path, log: Path, kill_after: int | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (KILL_ENV, TASK_LOG_ENV)}
    env[TASK_LOG_ENV] = str(log)
    if kill_after is not None:
        env[KILL_ENV] = str(kill_after)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, executor, str(directory)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        kill_group(proc.pid)  # what a SIGKILLed driver leaves behind (Ray's agents) goes with it
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _keys(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(
    ("executor", "kill_after"),
    [
        ("local", 7),  # in the middle of the trainings
        pytest.param(
            "ray", 14, marks=pytest.mark.skipif(not ray_available(), reason=RAY_SKIP_REASON)
        ),  # two unlearning runs stored, others in flight on two Ray workers
    ],
)
def test_a_killed_qualification_resumes_without_retraining_finished_models(
    executor: str, kill_after: int, tmp_path: Path, uninterrupted: QualificationReport
) -> None:
    before = set(ray_processes())
    directory = tmp_path / "qualification"
    store = ResultStore(directory / "models")

    first = _run(executor, directory, tmp_path / "first.log", kill_after)
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    finished = {r.key: r for r in store.records()}
    assert len(finished) == kill_after
    assert set(finished) <= set(_keys(tmp_path / "first.log"))
    weights = {key: store.weights_path(key).read_bytes() for key in finished}

    second = _run(executor, directory, tmp_path / "second.log", None)
    assert second.returncode == 0, second.stderr[-3000:]
    rerun = _keys(tmp_path / "second.log")
    final = {r.key: r for r in store.records()}
    assert len(final) == 18
    assert not set(rerun) & set(finished)  # no finished model was trained or unlearned again
    assert sorted(rerun) == sorted(set(final) - set(finished))  # each missing one ran exactly once
    for key, record in finished.items():
        assert final[key] == record and store.weights_path(key).read_bytes() == weights[key]
    drivers = {r.run_id.rsplit(":", 1)[0] for r in final.values()}  # host:pid of the process that stored it
    assert len(drivers) == 2 and {r.executor for r in final.values()} == {executor}

    resumed = QualificationReport.model_validate_json(second.stdout.strip().splitlines()[-1])
    assert resumed.model_dump(exclude=TIMINGS) == uninterrupted.model_dump(exclude=TIMINGS)
    left = wait_gone(set(ray_processes()) - before)
    assert not left, f"Ray processes left running: {sorted(left)}"
