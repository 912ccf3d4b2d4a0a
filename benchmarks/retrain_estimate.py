"""The retraining-time estimate that time budgets are a fraction of, against a real retrain.

    nice -n 5 .venv/bin/python benchmarks/retrain_estimate.py --json
    nice -n 5 .venv/bin/python benchmarks/retrain_estimate.py --sizes tour,quick --json

For each size, the data and TrainConfig of that entry point:

- ``tour``: the README tour (``datasets synth --subjects 150 --image-size 16 --requests 4``, then
  ``models train --image-size 16 --epochs 6``);
- ``quick``: ``deletion-sdk demo --quick`` (1,000 people, 32×32, 10 epochs, 12 requests);
- ``demo``: ``deletion-sdk demo`` (3,700 people, 32×32, the default 16 epochs, 20 requests).

Steps, back to back so that each ratio's two sides run under the same machine load:

1. train the deployed model on the training split as ``models train`` does, in a fresh process as
   ``models train`` and the demo train it (its ``train_time_s`` and ``n_train`` are what the ledger
   records);
2. the forget set is the requested people's examples (drawn as the demo and ``datasets synth``
   draw them), the retain set the rest of the training split;
3. the batch job's estimate, :func:`deletion_sdk.unlearning.budget.retrain_time_s` with those
   recorded metrics, the trained model and the retain set (``batch_job``: the recorded figure at the
   demo and quick sizes, the probe at the tour's, where the record is under 30 s), and each of its
   two sources on its own: ``recorded`` (:func:`~deletion_sdk.unlearning.budget.recorded_retrain_time_s`)
   and the probe (:func:`~deletion_sdk.unlearning.budget.estimate_retrain_time_s`) before and after
   the retrain;
4. the real retrain: :func:`deletion_sdk.training.train_model` on the retain set from a fresh model
   with the original TrainConfig, as the ``retrain`` unlearner runs it. ``actual_s`` is that whole
   call (build, optimisation loop, the evaluation on the retain set); ``actual_loop_s`` the loop.
   ``--repeats N`` repeats 3-4 (probe, retrain, probe) N times.

On a shared machine a wall-clock ratio also measures how the load changed between its two sides, so
``cpu`` repeats the batch job's arithmetic and the probe on process CPU seconds (``time.process_time``
as the probe's clock): with ``--threads 1`` that isolates the method's own error from the load.

A ratio is ``estimate / actual``; within ±25 % means ``0.75 <= ratio <= 1.25``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from deletion_sdk._device import resolve_device
from deletion_sdk.data import FaceTensors, SynthFacesConfig, generate_faces, subject_disjoint_split
from deletion_sdk.training import TrainConfig, build_model, train_model
from deletion_sdk.unlearning.budget import estimate_retrain_time_s, recorded_retrain_time_s, retrain_time_s

TOLERANCE = 0.25


@dataclass(frozen=True)
class Size:
    """One entry point's data and training sizes."""

    n_subjects: int
    image_size: int
    epochs: int
    n_requests: int


SIZES = {
    "tour": Size(n_subjects=150, image_size=16, epochs=6, n_requests=4),
    "quick": Size(n_subjects=1000, image_size=32, epochs=10, n_requests=12),
    "demo": Size(n_subjects=3700, image_size=32, epochs=TrainConfig().epochs, n_requests=20),
}


def _ratio(estimate: float | None, actual: float) -> dict[str, Any]:
    if estimate is None:
        return {"estimate_s": None, "ratio": None, "within_25pct": False}
    ratio = estimate / actual
    return {
        "estimate_s": round(estimate, 3),
        "ratio": round(ratio, 3),
        "within_25pct": bool(1 - TOLERANCE <= ratio <= 1 + TOLERANCE),
    }


def _train_original(
    train: FaceTensors,
    holdout: FaceTensors,
    test: FaceTensors,
    config: TrainConfig,
    device: str,
    threads: int,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``models train`` in a fresh process: the recorded metrics and the weights."""
    torch.set_num_threads(threads)
    cpu: list[float] = []
    result = train_model(
        train,
        config=config,
        device=device,
        eval_sets={"holdout": holdout, "test": test},
        on_step=lambda: cpu.append(time.process_time()),
    )
    weights = {k: v.cpu() for k, v in result.model.state_dict().items()}
    loop_cpu_s = (cpu[-1] - cpu[0]) * len(cpu) / max(1, len(cpu) - 1)  # first step's start is not stamped
    metrics = {  # what models.train_and_register records, and the loop's CPU seconds
        "train_time_s": result.metrics.train_time_s,
        "n_train": result.metrics.n_train,
        "device": result.metrics.device,
        "train_cpu_s": loop_cpu_s,
    }
    return metrics, weights


def measure(name: str, size: Size, *, seed: int, device: torch.device, repeats: int) -> dict[str, Any]:
    """Train, then (probe, retrain, probe) ``repeats`` times at one size."""
    faces = generate_faces(
        SynthFacesConfig(n_subjects=size.n_subjects, image_size=size.image_size, seed=seed)
    )
    parts = subject_disjoint_split(
        faces.data, fractions={"train": 0.6, "holdout": 0.2, "test": 0.2}, seed=seed
    )
    train = parts["train"]
    config = TrainConfig(image_size=size.image_size, epochs=size.epochs, seed=seed)
    load_before = [round(x, 2) for x in os.getloadavg()]

    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        recorded, weights = pool.submit(
            _train_original,
            train,
            parts["holdout"],
            parts["test"],
            config,
            str(device),
            torch.get_num_threads(),
        ).result()
    deployed = build_model(config.arch, num_classes=config.num_classes, image_size=config.image_size)
    deployed.load_state_dict(weights)  # the batch job loads the deployed weights on the CPU
    deployed.eval()

    people = sorted(set(train.subject_ids or ()))
    forget_people = set(random.Random(seed).sample(people, min(size.n_requests, len(people))))
    subject_ids = train.subject_ids or ()
    retain = train.take([i for i, s in enumerate(subject_ids) if s not in forget_people])
    recorded_estimate = recorded_retrain_time_s(recorded, len(retain), device=device)
    # The same arithmetic on CPU seconds: what the method predicts, apart from the machine's load swings.
    recorded_cpu = recorded_retrain_time_s(
        {"train_time_s": recorded["train_cpu_s"], "n_train": recorded["n_train"]}, len(retain)
    )

    runs = []
    for r in range(repeats):
        t0 = time.perf_counter()
        batch_estimate = retrain_time_s(
            metrics=recorded, model=deployed, retain=retain, train_config=config, device=device
        )
        batch_cost = time.perf_counter() - t0
        t0 = time.perf_counter()
        probe_before = estimate_retrain_time_s(deployed, retain, train_config=config, device=device)
        probe_cost = time.perf_counter() - t0
        retrain_config = config.model_copy(update={"seed": seed + 1 + r})
        t0, c0 = time.perf_counter(), time.process_time()
        fresh = build_model(config.arch, num_classes=config.num_classes, image_size=config.image_size)
        retrained = train_model(retain, config=retrain_config, device=device, model=fresh)
        actual, actual_cpu = time.perf_counter() - t0, time.process_time() - c0
        probe_after = estimate_retrain_time_s(deployed, retain, train_config=config, device=device)
        probe_cpu = estimate_retrain_time_s(
            deployed, retain, train_config=config, device=device, clock=time.process_time
        )
        runs.append(
            {
                "actual_s": round(actual, 3),
                "actual_loop_s": round(retrained.metrics.train_time_s, 3),
                "batch_job": _ratio(batch_estimate, actual),
                "batch_job_cost_s": round(batch_cost, 3),
                "recorded": _ratio(recorded_estimate, actual),
                "probe_before": _ratio(probe_before, actual),
                "probe_after": _ratio(probe_after, actual),
                "probe_cost_s": round(probe_cost, 3),
                "cpu": {
                    "actual_s": round(actual_cpu, 3),
                    "recorded": _ratio(recorded_cpu, actual_cpu),
                    "probe": _ratio(probe_cpu, actual_cpu),
                },
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    return {
        "size": name,
        "n_subjects": size.n_subjects,
        "image_size": size.image_size,
        "n_train": len(train),
        "n_retain": len(retain),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "recorded_train_time_s": round(recorded["train_time_s"], 3),
        "recorded_train_cpu_s": round(recorded["train_cpu_s"], 3),
        "load_average_before": load_before,
        "runs": runs,
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "size   n_retain epochs  actual_s  batch_est ratio ok    recorded ratio ok  probe_before ratio ok"
        "  probe_after ratio ok  cpu: recorded ratio, probe ratio"
    )
    lines = [head]
    for row in rows:
        for r in row["runs"]:
            cells = [f"{row['size']:<6} {row['n_retain']:>8} {row['epochs']:>6} {r['actual_s']:>9.2f}"]
            for key in ("batch_job", "recorded", "probe_before", "probe_after"):
                e = r[key]
                if e["estimate_s"] is None:
                    cells.append(f"{'-':>10} {'-':>5} {'-':>2}")
                else:
                    ok = "y" if e["within_25pct"] else "n"
                    cells.append(f"{e['estimate_s']:>10.2f} {e['ratio']:>5.2f} {ok:>2}")
            cells.append(f"{r['cpu']['recorded']['ratio']:>5.2f} {r['cpu']['probe']['ratio']:>5.2f}")
            lines.append("  ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="tour,quick,demo", help="comma-separated: tour, quick, demo")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="(probe, retrain, probe) rounds per size")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SIZES]
    if unknown or not names:
        parser.error(f"--sizes must name some of {', '.join(SIZES)}; got {args.sizes!r}")
    device = resolve_device(args.device)
    rows = [measure(name, SIZES[name], seed=args.seed, device=device, repeats=args.repeats) for name in names]
    doc = {
        "benchmark": "retrain_estimate",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "tolerance": TOLERANCE,
        "results": rows,
    }
    if args.json:
        print(json.dumps(doc))
    else:
        print(_table(rows))


if __name__ == "__main__":
    main()
