"""The ray executor on a local two-CPU Ray: same weights as local, the shadow bank on Ray, GPU requests.

Skipped when ray cannot be imported. The module's Ray is started once (``workers=2``, two CPUs, no
dashboard) and shut down at the end; the teardown fails the run if any Ray process it started is left.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from deletion_sdk.errors import ExecutorError
from deletion_sdk.executor import LocalExecutor, RayExecutor, ResultStore, train_task, unlearn_task
from deletion_sdk.unlearning import create_unlearner
from deletion_sdk.verification.shadow import ShadowBank
from tests.executor_support import (
    CONFIG,
    RAY_SKIP_REASON,
    Split,
    make_split,
    ray_available,
    ray_processes,
    wait_gone,
)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ray_available(), reason=RAY_SKIP_REASON)]


@pytest.fixture(scope="module")
def split() -> Split:
    return make_split()


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[RayExecutor]:
    before = set(ray_processes())
    executor = RayExecutor(workers=2, task_timeout_s=600)
    try:
        yield executor
    finally:
        executor.close()
        left = wait_gone(set(ray_processes()) - before)
        assert not left, f"Ray processes left running after shutdown: {sorted(left)}"


def test_ray_and_local_give_bit_identical_weights(
    split: Split, ray_executor: RayExecutor, tmp_path: Path
) -> None:
    def run(executor: LocalExecutor | RayExecutor, store: ResultStore) -> list[str]:
        trained = executor.run(
            [
                train_task(split.train, CONFIG.model_copy(update={"seed": s}), device="cpu", label=f"t{s}")
                for s in range(3)
            ],
            store=store,
        )
        unlearned = executor.run(
            [
                unlearn_task(
                    create_unlearner("finetune", epochs=1),
                    source=t,
                    forget=split.forget,
                    retain=split.retain,
                    config=CONFIG,
                    seed=i,
                    device="cpu",
                    label=f"u{i}",
                )
                for i, t in enumerate(trained[:2])
            ],
            store=store,
        )
        return [r.digest for r in trained + unlearned]

    on_ray = ResultStore(tmp_path / "ray")
    local = run(LocalExecutor(threads=1), ResultStore(tmp_path / "local"))
    assert run(ray_executor, on_ray) == local
    assert len(set(local)) == 5
    records = on_ray.records()
    assert {r.executor for r in records} == {"ray"}
    assert all(int(r.worker.rsplit(":", 1)[1]) != os.getpid() for r in records)  # ran in Ray workers


def test_a_shadow_bank_trained_on_ray_equals_the_local_one(
    split: Split, ray_executor: RayExecutor, tmp_path: Path
) -> None:
    def bank(executor: LocalExecutor | RayExecutor, where: str) -> ShadowBank:
        return ShadowBank(
            pool=split.train, model_digest="ab" * 32, config=CONFIG, k=4, directory=tmp_path / where,
            device="cpu", executor=executor,
        )  # fmt: skip

    on_ray = bank(ray_executor, "ray").build()
    local = bank(LocalExecutor(threads=1), "local").build()
    assert on_ray.complete and on_ray.model_copy(update={"members": ()}) == local.model_copy(
        update={"members": ()}
    )
    timeless = [m.model_dump(exclude={"train_time_s"}) for m in on_ray.members]
    assert timeless == [m.model_dump(exclude={"train_time_s"}) for m in local.members]
    assert len({m.digest for m in on_ray.members}) == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the CUDA task would run")
def test_a_cuda_task_asks_ray_for_a_gpu_and_the_timeout_ends_the_wait(
    split: Split, ray_executor: RayExecutor, tmp_path: Path
) -> None:
    """On a Ray without GPUs a CUDA task is never scheduled; the timeout turns that into ExecutorError."""
    ray_executor.run([], store=ResultStore(tmp_path))  # nothing to do: Ray is not even needed
    impatient = RayExecutor(workers=1, task_timeout_s=3)  # joins the module's Ray, which it must not stop
    task = train_task(split.train, CONFIG, device="cuda", label="on-gpu")
    assert task.needs_gpu
    store = ResultStore(tmp_path / "store")
    with pytest.raises(ExecutorError, match="No Ray task finished within 3"):
        impatient.run([task], store=store)
    impatient.close()
    assert store.records() == []
    import ray

    assert ray.is_initialized()  # closing an executor that joined a running Ray leaves it to its owner


@pytest.mark.gpu
def test_a_cuda_task_runs_on_a_gpu_that_ray_assigns(
    split: Split, ray_executor: RayExecutor, tmp_path: Path
) -> None:
    store = ResultStore(tmp_path / "store")
    [result] = ray_executor.run([train_task(split.train, CONFIG, device="cuda", label="on-gpu")], store=store)
    assert (result.device, result.executor) == ("cuda", "ray")
    assert result.spec["threads"] is None  # CPU threads do not enter a CUDA task's key
    assert store.load_model(result, device="cpu") is not None
