"""Turning verification evidence into a decision a privacy officer can read line by line.

``evaluate(policy, report)`` lists every check the policy sets: the measured value, the threshold, the
comparison and the outcome. The decision passes only if every check passes. Verification fails closed:
a threshold whose figure the report lacks fails, and so does a report of a cheaper tier than the policy
demands.

Exact retraining (``retrain``) is forgetting by construction: its checks are still measured and listed,
but they are informational (a small forget set can put a retrained model's attack AUC above a threshold
by chance) and the decision rests on the method being exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from deletion_sdk.policy.schema import Policy, Thresholds, Tier

if TYPE_CHECKING:
    from deletion_sdk.verification.report import KeyFigures, VerificationReport

__all__ = ["Check", "Decision", "evaluate"]

_TIER_ORDER = {Tier.POPULATION: 0, Tier.PER_EXAMPLE: 1, Tier.QUALIFICATION: 2}
EXACT_METHODS = frozenset({"retrain"})
LIRA_FPR = 0.05


class Check(BaseModel):
    """One line of the decision table."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    value: float | None
    threshold: float | None
    comparison: Literal["<=", ">=", "=="]
    passed: bool
    note: str | None = None


class Decision(BaseModel):
    """The policy's verdict on one verification report."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    policy_digest: str
    tier: str
    method: str | None
    basis: Literal["checks", "exact"]
    passed: bool
    checks: tuple[Check, ...]

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> str:
        """One line: PASS/FAIL and the failed checks."""
        if self.passed:
            return f"PASS ({len(self.checks)} checks, basis: {self.basis})"
        return "FAIL: " + "; ".join(
            f"{c.name} = {_fmt(c.value)} (must be {c.comparison} {_fmt(c.threshold)})"
            for c in self.failed_checks
        )


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def _compare(value: float | None, threshold: float, comparison: Literal["<=", ">="]) -> bool:
    if value is None or value != value:  # missing or NaN: fail closed
        return False
    return value <= threshold if comparison == "<=" else value >= threshold


def _auc_gap(f: KeyFigures) -> tuple[float, str]:
    if f.reference_auc is not None:
        return abs(f.forget_holdout_auc - f.reference_auc), "against the measured retrain reference"
    return abs(f.forget_holdout_auc - 0.5), "against 0.5, what a retrained model shows in expectation"


_Getter = Callable[["KeyFigures"], "tuple[float | None, str | None]"]

# threshold field -> (check name, description, comparison, how to read the value)
_CHECKS: dict[str, tuple[str, str, Literal["<=", ">="], _Getter]] = {
    "max_attack_auc": (
        "attack_auc",
        "loss-threshold attack ROC AUC, forget vs holdout (0.5 = cannot tell them apart)",
        "<=",
        lambda f: (f.forget_holdout_auc, None),
    ),
    "max_auc_gap_to_reference": (
        "auc_gap_to_reference",
        "distance of that AUC from a retrained model's",
        "<=",
        lambda f: _auc_gap(f),
    ),
    "min_ks_pvalue": (
        "ks_pvalue",
        "Kolmogorov–Smirnov p-value, forget vs holdout losses (small = distinguishable)",
        ">=",
        lambda f: (f.ks_pvalue, None),
    ),
    "max_lira_excess_flagged": (
        "lira_excess_flagged",
        f"share of forget examples LiRA flags at {LIRA_FPR:.0%} FPR, above the retrain calibrator's",
        "<=",
        lambda f: (
            None if f.lira_excess_flagged_fraction is None else f.lira_excess_flagged_fraction.get(LIRA_FPR),
            None if f.lira_excess_flagged_fraction is not None else "per-example (LiRA) evidence missing",
        ),
    ),
    "min_retain_accuracy_ratio": (
        "retain_accuracy_ratio",
        "accuracy on the kept training data, relative to the original model",
        ">=",
        lambda f: (f.retain_accuracy_ratio_to_original, None),
    ),
    "min_holdout_accuracy_ratio": (
        "holdout_accuracy_ratio",
        "accuracy on people never trained on, relative to the original model",
        ">=",
        lambda f: (f.holdout_accuracy_ratio_to_original, None),
    ),
}


def evaluate(
    policy: Policy,
    report: VerificationReport,
    *,
    method: str | None = None,
    qualification_score_ratio: float | None = None,
) -> Decision:
    """Apply ``policy`` to ``report``.

    Args:
        policy: the policy of the requests.
        report: the verification evidence of the unlearned model.
        method: the unlearner that produced the model (``retrain`` makes the decision rest on exactness).
        qualification_score_ratio: the method's qualified final score divided by the oracle's forgetting
            quality, when a qualification report exists.

    Returns:
        The decision with every check; ``passed`` only if every check passed (or the method is exact).
    """
    figures = report.figures
    report_tier = Tier(str(report.tier))
    checks: list[Check] = [
        Check(
            name="verification_tier",
            description=f"evidence of at least the '{policy.verification.tier.value}' tier",
            value=float(_TIER_ORDER[report_tier]),
            threshold=float(_TIER_ORDER[policy.verification.tier]),
            comparison=">=",
            passed=_TIER_ORDER[report_tier] >= _TIER_ORDER[policy.verification.tier],
            note=f"report tier: {report_tier.value}",
        )
    ]
    thresholds: Thresholds = policy.verification.thresholds
    for field, (name, description, comparison, getter) in _CHECKS.items():
        threshold = getattr(thresholds, field)
        if threshold is None:
            continue
        value, note = getter(figures)
        checks.append(
            Check(
                name=name,
                description=description,
                value=None if value is None else float(value),
                threshold=float(threshold),
                comparison=comparison,
                passed=_compare(value, float(threshold), comparison),
                note=note,
            )
        )
    exact = method in EXACT_METHODS
    if thresholds.min_qualification_score_ratio is not None and not exact:
        checks.append(
            Check(
                name="qualification_score_ratio",
                description="qualified final score of the method relative to the oracle's forgetting quality",
                value=qualification_score_ratio,
                threshold=thresholds.min_qualification_score_ratio,
                comparison=">=",
                passed=_compare(qualification_score_ratio, thresholds.min_qualification_score_ratio, ">="),
                note=None
                if qualification_score_ratio is not None
                else "no qualification report for this method",
            )
        )
    if policy.certificate.require_qualification_report and not exact:
        checks.append(
            Check(
                name="qualification_report",
                description="the method passed a competition-style qualification cited by the certificate",
                value=1.0 if qualification_score_ratio is not None else 0.0,
                threshold=1.0,
                comparison="==",
                passed=qualification_score_ratio is not None,
            )
        )
    if exact:
        checks = [
            c
            if c.passed
            else c.model_copy(update={"note": "informational: exact retraining forgets by construction"})
            for c in checks
        ]
    passed = exact or all(c.passed for c in checks)
    return Decision(
        policy_id=policy.id,
        policy_digest=policy.digest,
        tier=report_tier.value,
        method=method,
        basis="exact" if exact else "checks",
        passed=passed,
        checks=tuple(checks),
    )
