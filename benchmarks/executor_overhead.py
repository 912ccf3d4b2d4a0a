"""What Ray costs per task, against running the same tasks in this process (the ``local`` executor).

Three measurements, each reported with the machine's load average so that a shared machine shows:

* ``ray_start_s`` — starting a local Ray (``workers × 1`` CPUs, no dashboard) until it answers;
* ``trivial`` — a no-op Ray task: the first one (a worker process starts) and then round trips, one at a
  time and ``--trivial`` at once;
* ``training`` — ``--tasks`` tiny training tasks (``tiny_cnn`` on ``--rows`` random 8×8 images, one
  epoch; one torch thread each) through ``LocalExecutor(threads=1)`` and ``RayExecutor(workers=W)``:
  wall time of the whole batch, the workers' own seconds, and the overhead per task
  (``(wall × W − Σ task wall) / tasks`` for Ray: time a worker slot spent on anything but the task),
  once with fresh Ray workers (``ray_cold``: each imports torch and the SDK) and once more (``ray_warm``).

The weights are checked to be bit-identical between the two executors.

    python benchmarks/executor_overhead.py --json
    python benchmarks/executor_overhead.py --workers 2 --tasks 16 --rows 256 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from deletion_sdk.data import FaceTensors
from deletion_sdk.executor import LocalExecutor, RayExecutor, ResultStore, TaskResult, train_task
from deletion_sdk.logging import configure_logging
from deletion_sdk.training import TrainConfig


def _faces(n: int) -> FaceTensors:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (n,), generator=g)
    return FaceTensors(
        images=torch.randint(0, 256, (n, 3, 8, 8), generator=g, dtype=torch.uint8),
        labels=labels,
        ages=labels.float(),
        example_ids=tuple(f"ex-{i:06d}" for i in range(n)),
    )


def _noop(x: int) -> int:
    return x


def _trivial(ray: Any, n: int) -> dict[str, float]:
    remote = ray.remote(num_cpus=1)(_noop)
    start = time.perf_counter()
    ray.get(remote.remote(0))
    first = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n):
        ray.get(remote.remote(i))
    sequential = (time.perf_counter() - start) / n
    start = time.perf_counter()
    ray.get([remote.remote(i) for i in range(n)])
    parallel = (time.perf_counter() - start) / n
    return {
        "first_task_s": round(first, 3),
        "round_trip_ms": round(sequential * 1e3, 2),
        "batched_ms_per_task": round(parallel * 1e3, 2),
    }


def _training(
    executor: LocalExecutor | RayExecutor, args: argparse.Namespace, *, first_seed: int = 0
) -> tuple[dict[str, Any], list[str]]:
    data = _faces(args.rows)
    config = TrainConfig(arch="tiny_cnn", num_classes=4, image_size=8, epochs=1, batch_size=32)
    tasks = [
        train_task(data, config.model_copy(update={"seed": s}), device="cpu", label=f"t{s}")
        for s in range(first_seed, first_seed + args.tasks)
    ]
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        results: list[TaskResult] = executor.run(tasks, store=ResultStore(Path(root)))
        wall = time.perf_counter() - start
    slots = getattr(executor, "workers", None) or 1
    busy = sum(r.wall_s for r in results)
    return {
        "executor": executor.name,
        "workers": slots,
        "tasks": len(results),
        "wall_s": round(wall, 2),
        "task_wall_s_mean": round(busy / len(results), 3),
        "train_loop_s_mean": round(sum(r.seconds for r in results) / len(results), 3),
        "overhead_per_task_s": round((wall * slots - busy) / len(results), 3),
    }, [r.digest for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--trivial", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    import ray

    out: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "load_average_before": os.getloadavg(),
        "args": vars(args),
    }
    local, local_digests = _training(LocalExecutor(threads=1), args)
    local_warm, local_warm_digests = _training(LocalExecutor(threads=1), args, first_seed=args.tasks)
    start = time.perf_counter()
    with RayExecutor(workers=args.workers, task_timeout_s=600) as executor:
        executor._ray()  # start it here, so that its start-up is measured on its own
        out["ray_start_s"] = round(time.perf_counter() - start, 2)
        out["trivial"] = _trivial(ray, args.trivial)
        on_ray, ray_digests = _training(executor, args)  # cold: each worker imports torch and the SDK
        on_ray_warm, ray_warm_digests = _training(executor, args, first_seed=args.tasks)
    out["training"] = {"local": local, "local_again": local_warm, "ray_cold": on_ray, "ray_warm": on_ray_warm}
    out["bit_identical"] = local_digests == ray_digests and local_warm_digests == ray_warm_digests
    out["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:22} {value}")


if __name__ == "__main__":
    main()
