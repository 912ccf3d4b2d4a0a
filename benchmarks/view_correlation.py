"""Which view of a forget example best predicts what retrained models say about it (margin_shift_distill).

    python benchmarks/view_correlation.py --home DIR --json
    python benchmarks/view_correlation.py --home DIR --oracle --json   # + N retrains: the oracle at N

Forgetting quality F compares each forget example's logit-scaled confidence under unlearned models with
the same under models retrained without the forget set. An unlearner that sets each forget example's
confidence to "what the original says about some view of it, less a margin" can at best score what that
target itself scores. This benchmark measures it, with forward passes only, on the N originals and N
retrains a qualification run stored under ``--home`` (``benchmarks/qualification.py --home DIR`` trains
them; they are trained here if missing, which takes a qualification's training time):

- for each view (the image itself, its mirror image, 1-pixel shifts, blur, noise, ...) the correlation of
  the per-example mean confidence over the originals with the mean over the retrains;
- F (at N and at N/2, as qualification reports them) of the view's confidences under each original minus
  their mean gap to the retrains: the score a method would get if it reached that target exactly;
- the *perfect-mean* bound: F of each example's mean retrained confidence plus the originals'
  model-to-model deviations on the mirror view: what a method scores that knew every forget example's
  retrained mean exactly and kept the originals' variation between seeds;
- with ``--oracle``, N more retrains (seeds N to 2N - 1) and the oracle at N: F of those N retrains
  against the first N, the ceiling of F at N itself (qualification can only report it at N/2).

The data, forget set and models are qualification's defaults (``--models``, default 8), so the figures
match ``benchmarks/qualification.py --models 8`` with the same ``--home``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from deletion_sdk.data.defaults import default_age_predictor_data
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.executor import create_executor
from deletion_sdk.executor.store import ResultStore
from deletion_sdk.executor.tasks import data_ref, train_task
from deletion_sdk.layout import HomeLayout
from deletion_sdk.logging import configure_logging
from deletion_sdk.training import TrainConfig
from deletion_sdk.training.inference import predict_logits
from deletion_sdk.verification.forgetting_quality import forgetting_quality
from deletion_sdk.verification.qualification import select_forget_set
from deletion_sdk.verification.signals import logit_scaled_confidence

View = Callable[[torch.Tensor], torch.Tensor]


def _noise(sd: float) -> View:
    def view(images: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(0)
        noisy = images.float() + torch.randn(images.shape, generator=g) * sd
        return noisy.clamp(0, 255).round().to(images.dtype)

    return view


def _blur(images: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(images.float(), 3, 1, 1, count_include_pad=False).round().to(images.dtype)


VIEWS: dict[str, View] = {
    "image": lambda x: x,
    "mirror": lambda x: x.flip(-1),
    "right 1 px": lambda x: torch.roll(x, 1, -1),
    "left 1 px": lambda x: torch.roll(x, -1, -1),
    "down 1 px": lambda x: torch.roll(x, 1, -2),
    "mirror, right 1 px": lambda x: torch.roll(x.flip(-1), 1, -1),
    "blur 3x3": _blur,
    "noise sd 8": _noise(8.0),
    "noise sd 20": _noise(20.0),
}


def _confidences(models: list[torch.nn.Module], data: FaceTensors, view: View) -> np.ndarray:
    shown = dataclasses.replace(data, images=view(data.images))
    return np.stack([logit_scaled_confidence(predict_logits(m, shown), data.labels) for m in models])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a qualification run's --home")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--oracle", action="store_true", help="train N more retrains; report the oracle at N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    device = torch.device("cpu")
    data = default_age_predictor_data(args.seed)
    forget = select_forget_set(data.train, fraction=0.02, seed=args.seed)
    retain = data.train.exclude(forget.example_ids)
    n_retrains = 2 * args.models if args.oracle else args.models
    configs = [TrainConfig().model_copy(update={"seed": i}) for i in range(n_retrains)]
    store = ResultStore(HomeLayout(args.home).qualification / "models")
    train_ref, retain_ref = data_ref(data.train), data_ref(retain)
    with create_executor("local") as runner:
        runs = runner.run(
            [
                train_task(data.train, c, device=device, label=f"original-{i:03d}", ref=train_ref)
                for i, c in enumerate(configs[: args.models])
            ]
            + [
                train_task(retain, c, device=device, label=f"retrain-{i:03d}", ref=retain_ref)
                for i, c in enumerate(configs)
            ],
            store=store,
        )
    models = [store.load_model(r, device=device).eval() for r in runs]
    originals, retrained = models[: args.models], models[args.models : 2 * args.models]
    target = _confidences(retrained, forget, VIEWS["image"])
    half = args.models // 2
    rows: list[dict[str, Any]] = []
    by_view: dict[str, np.ndarray] = {}
    for name, view in VIEWS.items():
        conf = by_view[name] = _confidences(originals, forget, view)
        gap = float((conf - target).mean())
        shifted = conf - gap
        rows.append(
            {
                "view": name,
                "correlation": float(np.corrcoef(conf.mean(0), target.mean(0))[0, 1]),
                "mean_gap_to_retrained": gap,
                "spread_across_models": float(shifted.std(0).mean()),
                "F_bound": forgetting_quality(shifted, target, device=device).score,
                "F_bound_at_half": forgetting_quality(shifted[:half], target[:half], device=device).score,
            }
        )
    mirror = by_view["mirror"]
    perfect = target.mean(0) + mirror - mirror.mean(0)
    result: dict[str, Any] = {
        "n_models": args.models,
        "n_forget": len(forget),
        "retrained_spread_across_models": float(target.std(0).mean()),
        "oracle_at_half": forgetting_quality(target[half : 2 * half], target[:half], device=device).score,
        "perfect_mean_bound": forgetting_quality(perfect, target, device=device).score,
        "perfect_mean_bound_at_half": forgetting_quality(perfect[:half], target[:half], device=device).score,
        "views": rows,
    }
    if args.oracle:
        second = _confidences(models[2 * args.models :], forget, VIEWS["image"])
        result["oracle"] = forgetting_quality(second, target, device=device).score
    if args.json:
        print(json.dumps(result, indent=2))
        return
    spread = result["retrained_spread_across_models"]
    print(f"oracle F at N/2: {result['oracle_at_half']:.3f}; retrained spread {spread:.3f}")
    if "oracle" in result:
        print(f"oracle F at N: {result['oracle']:.3f}")
    print(
        f"perfect-mean bound: F {result['perfect_mean_bound']:.3f} "
        f"(N/2 {result['perfect_mean_bound_at_half']:.3f})"
    )
    for r in rows:
        print(
            f"{r['view']:20} corr {r['correlation']:.3f}  gap {r['mean_gap_to_retrained']:+.2f}  "
            f"F bound {r['F_bound']:.3f} (N/2 {r['F_bound_at_half']:.3f})"
        )


if __name__ == "__main__":
    main()
