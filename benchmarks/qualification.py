"""Qualification leaderboard: the challenge's forgetting quality F for each unlearner, beside the oracle.

For every method, :func:`deletion_sdk.verification.qualification.qualify` trains (or reuses) N original
models on the default synthetic age-predictor data, unlearns a 2% forget set (whole subjects) from each,
retrains N models without it, and reports:

* ``F`` — forgetting quality of the N unlearned vs the N retrained models;
* ``final`` — ``F · (RA_U / RA_R) · (TA_U / TA_R)``;
* ``F@N/2`` and ``oracle F@N/2`` — the method and the retrained-vs-retrained ceiling at N // 2 models;
* ``time`` — mean unlearning wall time as a fraction of the mean retraining time.

Every run is stored under ``--home`` by the digest of its spec: originals and retrains are shared by all
methods, and a rerun (or a killed run) reuses whatever finished. ``--executor ray --workers 2`` runs the
trainings side by side on a local Ray (or the cluster ``RAY_ADDRESS`` names).

``--population-check`` instead trains one original and one retrained model and runs tier-1
verification on both: the population attack should find membership in the original (AUC > 0.6, forget
vs holdout) and not in the retrained model (its AUC interval containing 0.5).

    python benchmarks/qualification.py --models 8 --json
    python benchmarks/qualification.py --population-check --json
    python benchmarks/qualification.py --size tiny --epochs 5 --models 6     # a quick smoke run
    python benchmarks/qualification.py --models 8 --executor ray --workers 2 --json

Timings on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from deletion_sdk.data.defaults import default_age_predictor_data
from deletion_sdk.executor import create_executor
from deletion_sdk.layout import HomeLayout
from deletion_sdk.logging import configure_logging
from deletion_sdk.training import TrainConfig, train_model
from deletion_sdk.verification import verify_population
from deletion_sdk.verification.qualification import qualify, select_forget_set, summarize

METHODS = (
    "finetune",
    "neggrad_plus",
    "scrub",
    "salun",
    "uniform_contrastive",
    "masked_small_gradients",
    "noisy_finetune",
)


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _population_check(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    data = default_age_predictor_data(
        args.seed, size=args.size, image_size=config.image_size, n_subjects=args.subjects
    )
    forget = select_forget_set(data.train, fraction=args.forget_fraction, seed=args.seed)
    retain = data.train.exclude(forget.example_ids)
    out: dict[str, Any] = {
        "n_train": len(data.train),
        "n_forget": len(forget),
        "n_holdout": len(data.holdout),
    }
    for role, train, seed in (("original", data.train, 0), ("retrained", retain, 1)):
        start = time.perf_counter()
        model = train_model(train, config=config.model_copy(update={"seed": seed}), device=args.device).model
        report = verify_population(
            model, forget=forget, holdout=data.holdout, retain=retain, test=data.test, seed=args.seed
        )
        fig = report.figures
        out[role] = {
            "loss_attack_auc": fig.forget_holdout_auc,
            "loss_attack_auc_ci": fig.forget_holdout_auc_ci,
            "confidence_attack_auc": fig.confidence_auc,
            "tpr_at_fpr": fig.tpr_at_fpr,
            "ks_pvalue": fig.ks_pvalue,
            "simple_mia_accuracy": fig.logistic_attack_accuracy,
            "retain_accuracy": fig.retain_accuracy,
            "holdout_accuracy": fig.holdout_accuracy,
            "test_accuracy": fig.test_accuracy,
            "forget_accuracy": fig.forget_accuracy,
            "wall_s": round(time.perf_counter() - start, 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--models", type=int, default=8, help="N (>= 6)")
    parser.add_argument("--size", choices=("default", "tiny"), default="default")
    parser.add_argument("--subjects", type=int, default=None, help="override the number of subjects")
    parser.add_argument("--epochs", type=int, default=None, help="override TrainConfig.epochs")
    parser.add_argument("--arch", default=None, help="override TrainConfig.arch")
    parser.add_argument("--image-size", type=int, default=None, help="override TrainConfig.image_size")
    parser.add_argument("--forget-fraction", type=float, default=0.02)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, default=Path(".deletion_sdk-bench"))
    parser.add_argument("--executor", default="local", help="local or ray: who runs the trainings")
    parser.add_argument("--workers", type=int, default=None, help="trainings at once (ray)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads per CPU training (local; default torch's)"
    )
    parser.add_argument("--population-check", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    configure_logging(level="WARNING")  # logs on stderr: stdout stays one JSON document

    updates: dict[str, Any] = {}
    if args.epochs is not None:
        updates["epochs"] = args.epochs
    if args.arch is not None:
        updates["arch"] = args.arch
    if args.image_size is not None:
        updates["image_size"] = args.image_size
    config = TrainConfig().model_copy(update=updates)
    result: dict[str, Any] = {
        "machine": _machine(),
        "train_config": config.model_dump(mode="json"),
        "size": args.size,
        "subjects": args.subjects,
        "device": args.device,
        "executor": args.executor,
        "workers": args.workers,
        "threads": args.threads,
    }
    if args.population_check:
        result["population_check"] = _population_check(args, config)
    else:
        data = default_age_predictor_data(
            args.seed, size=args.size, image_size=config.image_size, n_subjects=args.subjects
        )
        rows = []
        options: dict[str, Any] = {"workers": args.workers} if args.workers is not None else {}
        if args.threads is not None:
            options["threads"] = args.threads
        with create_executor(args.executor, **options) as runner:
            for method in args.methods:
                start = time.perf_counter()
                report = qualify(
                    method,
                    config,
                    args.models,
                    train=data.train,
                    test=data.test,
                    forget_fraction=args.forget_fraction,
                    device=args.device,
                    seed=args.seed,
                    directory=HomeLayout(args.home).qualification,
                    progress=None if args.json else print,
                    executor=runner,
                )
                rows.append({**summarize(report), "wall_s": round(time.perf_counter() - start, 1)})
                if not args.json:
                    r = rows[-1]
                    print(
                        f"{method:24} F={r['forgetting_quality']:.4f} final={r['final_score']:.4f} "
                        f"F@N/2={r['forgetting_quality_at_half']:.4f} "
                        f"oracle={r['oracle_forgetting_quality']:.4f} "
                        f"time={r['time_fraction']:.3f}"
                    )
        result["methods"] = rows
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
