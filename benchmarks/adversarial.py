"""The adversarial matrix: which methods each shipped policy would certify, cheats included.

For every seed: synthetic faces, an original age predictor trained on them (cached), a forget set of
whole people (``--requests`` of them), then every method — the red-team cheats of
:mod:`deletion_sdk.redteam`, exact retraining, and the honest cheap methods — run on the original and
judged exactly as the batch job judges a candidate: ``verify_population`` against the original (with
the relearning and perturbation probes when a policy uses them) and ``evaluate`` under each policy.
"Certified" means the decision passed. A cheat that any policy certifies is a bug in the verification.

The per-example tier (``strict``) needs a shadow bank, which this harness does not train: strict is
judged on population evidence only and, fail-closed, certifies nothing.

Every training and unlearning run is an executor task (``--executor ray --workers 2`` runs them side
by side; ``--store DIR`` keeps finished runs so that a rerun or a killed run reuses them).

    python benchmarks/adversarial.py --json > benchmarks/out/adversarial.json
    python benchmarks/adversarial.py --subjects 400 --image-size 16 --requests 12 --seeds 5
    python benchmarks/adversarial.py --seeds 5 --executor ray --workers 2 --store .adversarial-runs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from deletion_sdk._device import resolve_device
from deletion_sdk.data import default_age_predictor_data
from deletion_sdk.data.defaults import AgePredictorData
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.executor import Executor, ResultStore, create_executor, train_task, unlearn_task
from deletion_sdk.logging import configure_logging
from deletion_sdk.policy import ExactRetraining, evaluate, load_policy
from deletion_sdk.redteam import CHEATS, registered
from deletion_sdk.training import TrainConfig
from deletion_sdk.unlearning import create_unlearner, unlearner_provenance
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


@dataclass(frozen=True)
class _Setting:
    seed: int
    data: AgePredictorData
    config: TrainConfig
    forget: FaceTensors
    retain: FaceTensors


def _setting(args: argparse.Namespace, seed: int) -> _Setting:
    data = default_age_predictor_data(seed, image_size=args.image_size, n_subjects=args.subjects)
    config = TrainConfig(
        image_size=args.image_size, seed=seed, **({"epochs": args.epochs} if args.epochs else {})
    )
    forget, retain = _forget_people(data.train, args.requests, seed)
    return _Setting(seed=seed, data=data, config=config, forget=forget, retain=retain)


def run_matrix(
    args: argparse.Namespace, methods: list[str], runner: Executor, store: ResultStore
) -> list[dict[str, Any]]:
    """Every seed's original, then every (seed, method) unlearning run, as executor tasks; then judge each.

    The trainings and unlearning runs are independent tasks (``--executor ray`` runs them side by side);
    verification and the policies' decisions run here, one candidate after another.
    """
    device = resolve_device(args.device)
    settings = [_setting(args, seed) for seed in range(args.seeds)]
    originals = runner.run(
        [train_task(s.data.train, s.config, device=device, label=f"original-seed{s.seed}") for s in settings],
        store=store,
    )
    runs = runner.run(
        [
            unlearn_task(
                create_unlearner(method),
                source=original,
                forget=s.forget,
                retain=s.retain,
                config=s.config,
                seed=s.seed,
                device=device,
                label=f"{method}-seed{s.seed}",
            )
            for s, original in zip(settings, originals, strict=True)
            for method in methods
        ],
        store=store,
    )
    policies = [load_policy(p) for p in args.policies]
    needed = {name for p in policies for name in p.verification.thresholds.uses_probes}
    probes: bool | tuple[str, ...] = True if args.probes else tuple(sorted(needed))
    rows = []
    for i, (s, original_run) in enumerate(zip(settings, originals, strict=True)):
        original = store.load_model(original_run, device=device)
        for j, method in enumerate(methods):
            run = runs[i * len(methods) + j]
            start = time.perf_counter()
            report = verify_population(
                store.load_model(run, device=device),
                forget=s.forget,
                holdout=s.data.holdout,
                retain=s.retain,
                original=original,
                seed=s.seed,
                device=args.device,
                probes=probes,
            )
            verify_s = time.perf_counter() - start
            row = _row(
                s, method, report, unlearn_s=run.seconds, verify_s=verify_s, train_s=original_run.seconds
            )
            for policy in policies:
                decision = evaluate(policy, report, method=method, exact=_exact(method, s.forget, s.retain))
                row[policy.id] = decision.outcome
                row[f"{policy.id}_failed"] = [c.name for c in decision.failed_checks]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    return rows


def _row(
    s: _Setting, method: str, report: Any, *, unlearn_s: float, verify_s: float, train_s: float
) -> dict[str, Any]:
    f = report.figures

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "seed": s.seed,
        "method": method,
        "n_forget": len(s.forget),
        "loss_auc": round(f.forget_holdout_auc, 3),
        "margin_auc": rounded(f.margin_auc),
        "forget_acc_gap": rounded(f.forget_accuracy_gap),
        "relearn_gap": rounded(f.relearn_forget_accuracy_gap),
        "perturbed_gap": rounded(f.perturbed_forget_accuracy_gap),
        "ablated_auc": rounded(f.ablated_attack_auc),
        "ablation_gain": rounded(f.ablation_auc_gain),
        "retain_ratio": rounded(f.retain_accuracy_ratio_to_original),
        "holdout_ratio": rounded(f.holdout_accuracy_ratio_to_original),
        "unlearn_s": round(unlearn_s, 2),
        "verify_s": round(verify_s, 2),
        "train_s": round(train_s, 2),
    }


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
    parser.add_argument("--executor", default="local", help="local or ray: who runs the trainings")
    parser.add_argument("--workers", type=int, default=None, help="trainings at once (ray)")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="keep finished runs here (a rerun reuses them); default: temp",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.policies = args.policies.split(",")
    configure_logging(level="WARNING")
    methods = args.methods.split(",") if args.methods else [c.name for c in CHEATS] + list(HONEST)
    options = {"workers": args.workers} if args.workers is not None else {}
    with registered(*CHEATS), contextlib.ExitStack() as stack:
        root = args.store or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="adversarial-")))
        runner = stack.enter_context(create_executor(args.executor, **options))
        rows = run_matrix(args, methods, runner, ResultStore(root))
    summary = {
        m: {p: sum(r[p] == "passed" for r in rows if r["method"] == m) for p in args.policies}
        for m in methods
    }
    shown = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out = {"machine": platform.platform(), "args": shown, "certified": summary, "rows": rows}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for m, counts in summary.items():
            print(f"{m:28} " + " ".join(f"{p}={c}/{args.seeds}" for p, c in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
