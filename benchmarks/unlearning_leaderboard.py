"""Unlearning leaderboard on the default CPU age predictor.

For every registered unlearner: wall time as a fraction of ``retrain``'s, retain / holdout / forget
accuracy, and the forget-vs-holdout loss-attack AUC (``roc_auc_score`` of ``-loss``, members = forget
rows), printed beside the same AUC for ``retrain`` (the target: a method that forgot perfectly is
indistinguishable from a retrained model, whose forget rows look like holdout rows, AUC near 0.5)
and for the original model (what there was to remove).

The forget set is whole subjects drawn at random from the training subjects until they hold about
2% of the training images. The original model is cached in
``--cache`` (keyed by the data and training configuration); ``retrain`` is run and timed afresh unless
``--reuse-retrain`` is given, so that time fractions compare runs made under the same load.

    python benchmarks/unlearning_leaderboard.py --json
    python benchmarks/unlearning_leaderboard.py --methods finetune,scrub --set scrub.lr_scale=0.2
    python benchmarks/unlearning_leaderboard.py --methods neggrad_plus --repeats 10 --reuse-retrain

Each run is also verified and judged as a batch job would do it (``verify_population`` against the
original, then ``evaluate`` under ``--policy``, default ``gdpr-art17``); the row lists the failed checks.
``--repeats K`` runs each method with K unlearning seeds (the data, forget set and original stay fixed)
and adds a per-method summary: the spread of each figure and how many runs pass.

Timings on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from deletion_sdk.data import default_age_predictor_data
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.logging import configure_logging
from deletion_sdk.policy import Decision, Policy, evaluate, load_policy
from deletion_sdk.training import TrainConfig, build_model, predict_logits, train_model
from deletion_sdk.unlearning import UnlearningContext, list_unlearners, run_unlearner
from deletion_sdk.verification import verify_population

FORGET_FRACTION = 0.02


def _default_data(seed: int) -> tuple[FaceTensors, FaceTensors, TrainConfig, str]:
    """(train, holdout, config, description) of the default CPU age predictor."""
    data = default_age_predictor_data(seed)
    return data.train, data.holdout, TrainConfig(), f"default_age_predictor_data(seed={seed}), TrainConfig()"


def _forget_subjects(train: FaceTensors, seed: int) -> tuple[FaceTensors, FaceTensors]:
    """Whole subjects drawn at random until they hold >= 2% of the training rows."""
    if train.subject_ids is None:
        raise SystemExit("the training data carries no subject ids: cannot draw whole subjects")
    subjects = sorted(set(train.subject_ids))
    order = torch.randperm(len(subjects), generator=torch.Generator().manual_seed(seed + 2)).tolist()
    rows_of: dict[str, list[int]] = {}
    for i, s in enumerate(train.subject_ids):
        rows_of.setdefault(s, []).append(i)
    chosen: list[int] = []
    target = math.ceil(FORGET_FRACTION * len(train))
    for k in order:
        if len(chosen) >= target:
            break
        chosen.extend(rows_of[subjects[k]])
    forget_ids = {train.example_ids[i] for i in chosen}
    return train.restrict(forget_ids), train.exclude(forget_ids)


def _losses(model: torch.nn.Module, data: FaceTensors) -> tuple[torch.Tensor, float]:
    logits = predict_logits(model, data)
    loss = F.cross_entropy(logits, data.labels, reduction="none")
    return loss, float((logits.argmax(1) == data.labels).float().mean())


def _evaluate(
    model: torch.nn.Module, forget: FaceTensors, retain: FaceTensors, holdout: FaceTensors
) -> dict[str, float]:
    f_loss, f_acc = _losses(model, forget)
    h_loss, h_acc = _losses(model, holdout)
    _, r_acc = _losses(model, retain)
    labels = torch.cat([torch.ones(len(f_loss)), torch.zeros(len(h_loss))]).numpy()
    scores = (-torch.cat([f_loss, h_loss])).numpy()
    return {
        "retain_acc": r_acc,
        "holdout_acc": h_acc,
        "forget_acc": f_acc,
        "loss_auc": float(roc_auc_score(labels, scores)),
        "forget_loss": float(f_loss.mean()),
        "holdout_loss": float(h_loss.mean()),
    }


def _cached_model(path: Path, config: TrainConfig, builder: Any) -> tuple[torch.nn.Module, float]:
    from safetensors.torch import load_file, save_file

    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        model = build_model(config.arch, num_classes=config.num_classes, image_size=config.image_size)
        model.load_state_dict(load_file(str(path)))
        return model.eval(), float(json.loads(meta.read_text())["wall_time_s"])
    start = time.perf_counter()
    model = builder()
    wall = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(path))
    meta.write_text(json.dumps({"wall_time_s": wall}))
    return model.eval(), wall


def _parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, _, raw = item.partition("=")
        method, _, param = key.partition(".")
        if not (method and param and raw):
            raise SystemExit(f"--set expects METHOD.PARAM=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(method, {})[param] = value
    return out


def _policy_decision(
    model: torch.nn.Module,
    original: torch.nn.Module,
    *,
    forget: FaceTensors,
    retain: FaceTensors,
    holdout: FaceTensors,
    policy: Policy,
    method: str,
    seed: int,
) -> Decision:
    """The decision a batch job would reach: its population verification, judged by ``policy``."""
    report = verify_population(
        model, forget=forget, holdout=holdout, retain=retain, original=original, seed=seed
    )
    return evaluate(policy, report, method=method)


def _summaries(rows: list[dict[str, Any]], policy_id: str) -> list[dict[str, Any]]:
    out = []
    for name in dict.fromkeys(r["method"] for r in rows if "seed" in r):
        runs = [r for r in rows if r["method"] == name and "seed" in r]
        summary: dict[str, Any] = {"method": name, "runs": len(runs)}
        for field in ("time_fraction", "retain_acc", "holdout_acc", "forget_acc", "loss_auc"):
            values = [r[field] for r in runs]
            summary[field] = {
                "mean": sum(values) / len(values),
                "min": min(values),
                "max": max(values),
            }
        summary[f"passes_{policy_id}"] = sum(not r[f"failed_{policy_id}"] for r in runs)
        out.append(summary)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--methods", default="", help="comma-separated subset (default: all registered)")
    parser.add_argument("--set", action="append", default=[], help="METHOD.PARAM=VALUE override (JSON value)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--cache", default="benchmarks/out/unlearning_cache", help="cache of the original model"
    )
    parser.add_argument(
        "--reuse-retrain",
        action="store_true",
        help="reuse a cached retrain (and its time) instead of timing one",
    )
    parser.add_argument("--repeats", type=int, default=1, help="unlearning seeds per method (K >= 1)")
    parser.add_argument("--policy", default="gdpr-art17", help="policy whose population checks are counted")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be >= 1, got {args.repeats}")
    policy = load_policy(args.policy)
    configure_logging(level="WARNING")  # logs on stderr: stdout stays one JSON document

    train, holdout, config, source = _default_data(args.seed)
    forget, retain = _forget_subjects(train, args.seed)
    key = hashlib.sha256(
        (
            config.model_dump_json() + "".join(train.example_ids[:50]) + str(len(train)) + str(args.seed)
        ).encode()
    ).hexdigest()[:16]
    cache = Path(args.cache) / key
    original, train_s = _cached_model(
        cache / "original.safetensors",
        config,
        lambda: train_model(train, config=config, device=args.device).model,
    )
    context = UnlearningContext(device=args.device, seed=args.seed, train_config=config)
    if args.reuse_retrain:
        retrained, retrain_s = _cached_model(
            cache / "retrain.safetensors",
            config,
            lambda: run_unlearner("retrain", original, forget=forget, retain=retain, context=context).model,
        )
    else:  # timed in this run, beside the methods it is compared with
        done = run_unlearner("retrain", original, forget=forget, retain=retain, context=context)
        retrained, retrain_s = done.model, done.wall_time_s
    reference = _evaluate(retrained, forget, retain, holdout)
    overrides = _parse_overrides(args.set)
    names = [m for m in args.methods.split(",") if m] or list_unlearners()
    rows: list[dict[str, Any]] = [
        {"method": "original (no unlearning)", **_evaluate(original, forget, retain, holdout)},
        {"method": "retrain", "wall_time_s": retrain_s, "time_fraction": 1.0, **reference},
    ]
    for name in names:
        if name == "retrain":
            continue
        for repeat in range(args.repeats):
            seeded = dataclasses.replace(context, seed=args.seed + repeat)
            result = run_unlearner(
                name, original, forget=forget, retain=retain, context=seeded, params=overrides.get(name)
            )
            row = {
                "method": name,
                "seed": seeded.seed,
                "wall_time_s": result.wall_time_s,
                "time_fraction": result.wall_time_s / retrain_s,
                "steps": result.steps,
                "params": result.params,
                **_evaluate(result.model, forget, retain, holdout),
            }
            decision = _policy_decision(
                result.model,
                original,
                forget=forget,
                retain=retain,
                holdout=holdout,
                policy=policy,
                method=name,
                seed=seeded.seed,
            )
            failed = [c.name for c in decision.failed_checks]
            row[f"failed_{args.policy}"] = failed
            rows.append(row)
            if not args.json:
                print(
                    f"{name:24s} seed {row['seed']:<3d} t/retrain {row['time_fraction']:.3f}  "
                    f"retain {row['retain_acc']:.3f}  holdout {row['holdout_acc']:.3f}  "
                    f"forget {row['forget_acc']:.3f}  AUC {row['loss_auc']:.3f} "
                    f"(retrain {reference['loss_auc']:.3f})  {args.policy} "
                    f"{', '.join(failed) or 'pass'}",
                    flush=True,
                )
    doc = {
        "benchmark": "unlearning_leaderboard",
        "data": source,
        "train_config": config.model_dump(mode="json"),
        "n_train": len(train),
        "n_forget": len(forget),
        "n_forget_subjects": len(set(forget.subject_ids or ())),
        "n_retain": len(retain),
        "n_holdout": len(holdout),
        "original_train_time_s": train_s,
        "retrain_time_s": retrain_s,
        "retrain_loss_auc": reference["loss_auc"],
        "device": args.device,
        "machine": f"{platform.machine()} {platform.processor() or ''} torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads".strip(),
        "rows": rows,
    }
    if args.repeats > 1:
        doc["summaries"] = _summaries(rows, args.policy)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for r in rows[:2]:
            print(
                f"{r['method']:24s} retain {r['retain_acc']:.3f}  holdout {r['holdout_acc']:.3f}  "
                f"forget {r['forget_acc']:.3f}  AUC {r['loss_auc']:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
