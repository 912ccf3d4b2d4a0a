"""Forgetting-quality speed: the challenge metric on ``--models`` x ``--examples`` confidences.

The challenge scored 512 unlearned and 512 retrained models on each forget example, evaluating for every
example about ``(hi − lo)·100`` single-threshold rules and ~400 x 400 double-threshold rules. This times
:func:`deletion_sdk.verification.forgetting_quality` on synthetic confidences shaped like real ones
(per-example location and spread, a small shift between the unlearned and retrained sides), on the CPU and,
when present, on CUDA, and checks that both devices give the same per-example ε. It also reports the
Gaussian oracle (two samples of the same distribution), the F level a perfect unlearner can reach.

    python benchmarks/forgetting_quality_speed.py --json
    python benchmarks/forgetting_quality_speed.py --models 512 --examples 500 --repeats 3

Timings on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np
import torch

from deletion_sdk.verification import forgetting_quality


def _confidences(models: int, examples: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    loc = rng.normal(3.0, 3.0, size=examples)
    scale = rng.uniform(0.5, 3.0, size=examples)
    unlearned = rng.normal(loc, scale, size=(models, examples))
    retrained = rng.normal(loc + shift * scale, scale, size=(models, examples))
    return unlearned, retrained


def _time(u: np.ndarray, r: np.ndarray, device: str, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = forgetting_quality(u, r, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=512)
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--shift", type=float, default=0.3, help="retrained mean shift, in per-example sds")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    u, r = _confidences(args.models, args.examples, args.shift, args.seed)
    out: dict[str, Any] = {
        "models": args.models,
        "examples": args.examples,
        "shift_sd": args.shift,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }
    cpu_s, cpu = _time(u, r, "cpu", args.repeats)
    out["cpu_s"] = round(cpu_s, 3)
    out["F_shifted"] = cpu.score
    if torch.cuda.is_available():
        _time(u[:, :8], r[:, :8], "cuda", 1)  # warm-up
        cuda_s, cuda = _time(u, r, "cuda", args.repeats)
        out["cuda_s"] = round(cuda_s, 3)
        out["cuda_matches_cpu"] = bool(np.array_equal(cuda.epsilons, cpu.epsilons))
    same_u, same_r = _confidences(args.models, args.examples, 0.0, args.seed + 1)
    out["F_gaussian_oracle"] = forgetting_quality(same_u, same_r, device="auto").score
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
