"""The adversarial matrix: which methods each shipped policy would certify, cheats included.

For every seed: synthetic faces, an original age predictor trained on them (cached), a forget set of
whole people (``--requests`` of them), then every method — the red-team cheats of
:mod:`deletion_sdk.redteam`, exact retraining, and the honest cheap methods — run on the original and
judged exactly as the batch job judges a candidate: ``verify_population`` against the original (with
the relearning and perturbation probes when a policy uses them) and ``evaluate`` under each policy.
"Certified" means the decision passed. A cheat that any policy certifies is a bug in the verification.

The per-example tier (``strict``) needs a shadow bank, which this harness does not train: strict is
judged on population evidence only and, fail-closed, certifies nothing.

    python benchmarks/adversarial.py --json > benchmarks/out/adversarial.json
    python benchmarks/adversarial.py --subjects 400 --image-size 16 --requests 12 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any

import torch

from deletion_sdk.data import default_age_predictor_data
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.logging import configure_logging
from deletion_sdk.policy import ExactRetraining, evaluate, load_policy
from deletion_sdk.redteam import CHEATS, registered
from deletion_sdk.training import TrainConfig, train_model
from deletion_sdk.unlearning import UnlearningContext, run_unlearner, unlearner_provenance
from deletion_sdk.verification import verify_population

HONEST = ("retrain", "neggrad_plus", "bad_teacher")
POLICIES = ("gdpr-art17", "ccpa", "strict")


def _forget_people(train: FaceTensors, n: int, seed: int) -> tuple[FaceTensors, FaceTensors]:
    if train.subject_ids is None:
        raise SystemExit("the training data carries no subject ids")
    people = sorted(set(train.subject_ids))
    order = torch.randperm(len(people), generator=torch.Generator().manual_seed(seed + 2)).tolist()
    chosen = {people[i] for i in order[:n]}
    ids = {e for e, s in zip(train.example_ids, train.subject_ids, strict=True) if s in chosen}
    return train.restrict(ids), train.exclude(ids)


def _exact(method: str, forget: FaceTensors, retain: FaceTensors) -> ExactRetraining | None:
    if method != "retrain":
        return None
    return ExactRetraining(
        unlearner_class=unlearner_provenance(method).class_path,
        retrained_training_root="0" * 64,
        forget_merkle_root="0" * 64,
        overlap=len(set(forget.example_ids) & set(retain.example_ids)),
    )


def run_seed(args: argparse.Namespace, seed: int, methods: list[str]) -> list[dict[str, Any]]:
    data = default_age_predictor_data(seed, image_size=args.image_size, n_subjects=args.subjects)
    config = TrainConfig(
        image_size=args.image_size, seed=seed, **({"epochs": args.epochs} if args.epochs else {})
    )
    start = time.perf_counter()
    original = train_model(data.train, config=config, device=args.device).model
    train_s = time.perf_counter() - start
    forget, retain = _forget_people(data.train, args.requests, seed)
    policies = [load_policy(p) for p in args.policies]
    needed = {name for p in policies for name in p.verification.thresholds.uses_probes}
    probes: bool | tuple[str, ...] = True if args.probes else tuple(sorted(needed))
    rows = []
    for method in methods:
        start = time.perf_counter()
        result = run_unlearner(
            method,
            original,
            forget=forget,
            retain=retain,
            context=UnlearningContext(device=args.device, seed=seed, train_config=config),
        )
        unlearn_s = time.perf_counter() - start
        start = time.perf_counter()
        report = verify_population(
            result.model,
            forget=forget,
            holdout=data.holdout,
            retain=retain,
            original=original,
            seed=seed,
            device=args.device,
            probes=probes,
        )
        verify_s = time.perf_counter() - start
        f = report.figures
        row: dict[str, Any] = {
            "seed": seed,
            "method": method,
            "n_forget": len(forget),
            "loss_auc": round(f.forget_holdout_auc, 3),
            "margin_auc": None if f.margin_auc is None else round(f.margin_auc, 3),
            "forget_acc_gap": None if f.forget_accuracy_gap is None else round(f.forget_accuracy_gap, 3),
            "relearn_gap": None
            if f.relearn_forget_accuracy_gap is None
            else round(f.relearn_forget_accuracy_gap, 3),
            "perturbed_gap": None
            if f.perturbed_forget_accuracy_gap is None
            else round(f.perturbed_forget_accuracy_gap, 3),
            "retain_ratio": None
            if f.retain_accuracy_ratio_to_original is None
            else round(f.retain_accuracy_ratio_to_original, 3),
            "holdout_ratio": None
            if f.holdout_accuracy_ratio_to_original is None
            else round(f.holdout_accuracy_ratio_to_original, 3),
            "unlearn_s": round(unlearn_s, 2),
            "verify_s": round(verify_s, 2),
            "train_s": round(train_s, 2),
        }
        for policy in policies:
            decision = evaluate(policy, report, method=method, exact=_exact(method, forget, retain))
            row[policy.id] = decision.outcome
            row[f"{policy.id}_failed"] = [c.name for c in decision.failed_checks]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=400)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--requests", type=int, default=12, help="people in the forget set")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--methods", default=None, help="comma-separated (default: every cheat + honest)")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--probes", action="store_true", help="run the probes even if no policy uses them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.policies = args.policies.split(",")
    configure_logging(level="WARNING")
    methods = args.methods.split(",") if args.methods else [c.name for c in CHEATS] + list(HONEST)
    rows: list[dict[str, Any]] = []
    with registered(*CHEATS):
        for seed in range(args.seeds):
            rows += run_seed(args, seed, methods)
    summary = {
        m: {p: sum(r[p] == "passed" for r in rows if r["method"] == m) for p in args.policies}
        for m in methods
    }
    out = {"machine": platform.platform(), "args": vars(args), "certified": summary, "rows": rows}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for m, counts in summary.items():
            print(f"{m:28} " + " ".join(f"{p}={c}/{args.seeds}" for p, c in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
