"""The checks a policy's thresholds turn into, and how each reads its figure from a report.

Each threshold field of :class:`~deletion_sdk.policy.schema.Thresholds` maps to one or more
:class:`CheckSpec`. A spec is either a **forgetting** check (it looks for what the model still knows about
the forget set) or a **utility** check (what the model still knows about everything else). Forgetting
checks are also run on the untouched original model: a check the original passes cannot tell
forgetting from doing nothing (see :func:`deletion_sdk.policy.evaluate`).

Two-sided checks (the AUC gap, the forget-accuracy gap) fail over-forgetting like under-forgetting: a
model that is *less* confident on the forgotten people than on people it never saw still singles them
out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from deletion_sdk.verification.report import KeyFigures

__all__ = ["CHECKS", "LIRA_FPR", "MAX_TIED_FRACTION", "CheckSpec"]

LIRA_FPR = 0.05
# Above this share of tied scores the attacks have nothing to rank: the evidence is degenerate (a model
# whose logits were scaled towards zero makes every softmax loss tie) and the decision fails closed.
MAX_TIED_FRACTION = 0.5

Reading = tuple[float | None, str | None]


@dataclass(frozen=True)
class CheckSpec:
    """One check: its name, what it means, how it compares, how to read its value, and its kind."""

    name: str
    description: str
    comparison: Literal["<=", ">="]
    read: Callable[[KeyFigures], Reading]
    kind: Literal["forgetting", "utility"]


def _auc_gap(f: KeyFigures) -> Reading:
    """The larger distance of the loss and margin attacks' AUCs from a retrained model's."""
    ref, where = (
        (f.reference_auc, "against the measured retrain reference")
        if f.reference_auc is not None
        else (0.5, "against 0.5, what a retrained model shows in expectation")
    )
    if f.margin_auc is None:
        return None, "margin attack missing (report written before schema 2)"
    gaps = {"loss": f.forget_holdout_auc - ref, "margin": f.margin_auc - ref}
    worst = max(gaps, key=lambda k: abs(gaps[k]))
    return abs(gaps[worst]), f"{worst} attack {gaps[worst]:+.3f} {where}"


def _gap(g: float | None, what: str) -> Reading:
    if g is None:
        return None, f"{what} not measured"
    side = "still recognised" if g > 0 else "over-forgotten" if g < 0 else "even"
    return abs(g), f"forget accuracy {g:+.3f} against people never seen ({side})"


def _accuracy_gap(f: KeyFigures) -> Reading:
    return _gap(f.forget_accuracy_gap, "forget-accuracy gap")


def _lira(f: KeyFigures) -> Reading:
    if f.lira_excess_flagged_fraction is None:
        return None, "per-example (LiRA) evidence missing"
    return f.lira_excess_flagged_fraction.get(LIRA_FPR), None


# threshold field -> the checks it sets
CHECKS: dict[str, tuple[CheckSpec, ...]] = {
    "max_attack_auc": (
        CheckSpec(
            "attack_auc",
            "loss-threshold attack ROC AUC, forget vs holdout (0.5 = cannot tell them apart)",
            "<=",
            lambda f: (f.forget_holdout_auc, None),
            "forgetting",
        ),
        CheckSpec(
            "margin_attack_auc",
            "logit-margin attack ROC AUC, forget vs holdout (survives any rescaling of the logits)",
            "<=",
            lambda f: (f.margin_auc, None if f.margin_auc is not None else "margin attack missing"),
            "forgetting",
        ),
    ),
    "max_auc_gap_to_reference": (
        CheckSpec(
            "auc_gap_to_reference",
            "distance of either attack's AUC from a retrained model's, in either direction",
            "<=",
            _auc_gap,
            "forgetting",
        ),
    ),
    "max_forget_accuracy_gap": (
        CheckSpec(
            "forget_accuracy_gap",
            "forget-set accuracy against that on people never seen, in either direction",
            "<=",
            _accuracy_gap,
            "forgetting",
        ),
    ),
    "max_relearn_accuracy_gap": (
        CheckSpec(
            "relearn_accuracy_gap",
            "forget accuracy against people never seen after a few retain-only training steps "
            "(suppressed memories come back)",
            "<=",
            lambda f: _gap(f.relearn_forget_accuracy_gap, "relearning probe"),
            "forgetting",
        ),
    ),
    "max_perturbed_accuracy_gap": (
        CheckSpec(
            "perturbed_accuracy_gap",
            "forget accuracy against people never seen under a small input perturbation towards the labels",
            "<=",
            lambda f: _gap(f.perturbed_forget_accuracy_gap, "perturbation probe"),
            "forgetting",
        ),
    ),
    "max_ablation_auc_gain": (
        CheckSpec(
            "ablation_auc_gain",
            "how far the attacks' AUC rises when the output layer's most forget-specific units are switched "
            "off (a hidden detector of the forget set gives the memory back)",
            "<=",
            lambda f: (
                f.ablation_auc_gain,
                "ablation probe not measured"
                if f.ablation_auc_gain is None
                else f"AUC {f.ablated_attack_auc:.3f} with those units off",
            ),
            "forgetting",
        ),
    ),
    "min_ks_pvalue": (
        CheckSpec(
            "ks_pvalue",
            "Kolmogorov–Smirnov p-value, forget vs holdout losses (small = distinguishable)",
            ">=",
            lambda f: (f.ks_pvalue, None),
            "forgetting",
        ),
    ),
    "max_lira_excess_flagged": (
        CheckSpec(
            "lira_excess_flagged",
            f"share of forget examples LiRA flags at {LIRA_FPR:.0%} FPR, above the retrain calibrator's",
            "<=",
            _lira,
            "forgetting",
        ),
    ),
    "min_retain_accuracy_ratio": (
        CheckSpec(
            "retain_accuracy_ratio",
            "accuracy on the kept training data, relative to the original model",
            ">=",
            lambda f: (f.retain_accuracy_ratio_to_original, None),
            "utility",
        ),
    ),
    "min_holdout_accuracy_ratio": (
        CheckSpec(
            "holdout_accuracy_ratio",
            "accuracy on people never trained on, relative to the original model",
            ">=",
            lambda f: (f.holdout_accuracy_ratio_to_original, None),
            "utility",
        ),
    ),
}
