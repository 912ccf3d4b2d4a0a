"""Turning verification evidence into a decision a privacy officer can read line by line.

``evaluate(policy, report)`` lists every check the policy sets: the measured value, the threshold, the
comparison and the outcome. The decision passes only if every check passes. Verification fails closed:
a threshold whose figure the report lacks fails, and so does a report of a cheaper tier than the policy
demands, or degenerate evidence (most scores tied, as when a model's logits are scaled towards zero).

**Power before verdict.** Every forgetting check is also run on the untouched original model's figures.
If the original would pass all of them, the evidence cannot tell forgetting from doing nothing: the
decision is *inconclusive* (``passed`` is False; the job tries its next method, finally retraining) and
says so, instead of certifying a model that may have forgotten nothing.

Exact retraining is forgetting by construction, but "exact" is never read from a method's name: the
caller passes an :class:`ExactRetraining` proof (the SDK's own ``retrain`` class ran, and the retrained
model's training set holds none of the forget set's examples). With that proof the measured checks are
still listed but informational (a small forget set can put a retrained model's attack AUC above a
threshold by chance); the evidence tier is never waived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from deletion_sdk.policy.checks import CHECKS, LIRA_FPR, MAX_TIED_FRACTION, CheckSpec
from deletion_sdk.policy.schema import Policy, Thresholds, Tier

if TYPE_CHECKING:
    from deletion_sdk.verification.report import KeyFigures, VerificationReport

__all__ = ["LIRA_FPR", "Check", "Decision", "ExactRetraining", "evaluate"]

_TIER_ORDER = {Tier.POPULATION: 0, Tier.PER_EXAMPLE: 1, Tier.QUALIFICATION: 2}
# Checks whose failure an exact retraining does not excuse.
_NEVER_WAIVED = ("verification_tier", "exact_retraining")


class ExactRetraining(BaseModel):
    """Proof that a candidate was retrained from scratch without the forget set.

    Attributes:
        unlearner_class: the fully qualified class that ran; only the SDK's own retrain class counts.
        retrained_training_root: Merkle root of the examples the candidate was trained on.
        forget_merkle_root: Merkle root of the forget set.
        overlap: how many forget example ids are among the retrained model's training ids (must be 0).
    """

    model_config = ConfigDict(frozen=True)

    unlearner_class: str
    retrained_training_root: str
    forget_merkle_root: str
    overlap: int

    @property
    def holds(self) -> bool:
        """The SDK's own retraining ran on a training set disjoint from the forget set."""
        return self.unlearner_class == EXACT_UNLEARNER_CLASS and self.overlap == 0


EXACT_UNLEARNER_CLASS = "deletion_sdk.unlearning.methods.retrain.Retrain"


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
    """The policy's verdict on one verification report.

    ``inconclusive``: the original model would pass the same forgetting checks, so passing them shows
    nothing (``passed`` is then False).
    """

    model_config = ConfigDict(frozen=True)

    policy_id: str
    policy_digest: str
    tier: str
    method: str | None
    basis: Literal["checks", "exact"]
    passed: bool
    checks: tuple[Check, ...]
    inconclusive: bool = False

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def outcome(self) -> Literal["passed", "failed", "inconclusive"]:
        """``passed``, ``failed``, or ``inconclusive`` (the evidence has no power)."""
        return "passed" if self.passed else "inconclusive" if self.inconclusive else "failed"

    def summary(self) -> str:
        """One line: PASS/FAIL/INCONCLUSIVE and the failed checks."""
        if self.passed:
            return f"PASS ({len(self.checks)} checks, basis: {self.basis})"
        failed = "; ".join(
            f"{c.name} = {_fmt(c.value)} (must be {c.comparison} {_fmt(c.threshold)})"
            for c in self.failed_checks
        )
        if self.inconclusive:
            return f"INCONCLUSIVE: the original model passes these forgetting checks too; {failed}"
        return "FAIL: " + failed


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def _compare(value: float | None, threshold: float, comparison: Literal["<=", ">="]) -> bool:
    if value is None or value != value:  # missing or NaN: fail closed
        return False
    return value <= threshold if comparison == "<=" else value >= threshold


def _measured(thresholds: Thresholds, figures: KeyFigures) -> list[tuple[CheckSpec, Check]]:
    """Every check the thresholds set, read from ``figures``."""
    out = []
    for field, specs in CHECKS.items():
        threshold = getattr(thresholds, field)
        if threshold is None:
            continue
        for spec in specs:
            value, note = spec.read(figures)
            check = Check(
                name=spec.name,
                description=spec.description,
                value=None if value is None else float(value),
                threshold=float(threshold),
                comparison=spec.comparison,
                passed=_compare(value, float(threshold), spec.comparison),
                note=note,
            )
            out.append((spec, check))
    return out


def _tier_check(policy: Policy, report_tier: Tier) -> Check:
    return Check(
        name="verification_tier",
        description=f"evidence of at least the '{policy.verification.tier.value}' tier",
        value=float(_TIER_ORDER[report_tier]),
        threshold=float(_TIER_ORDER[policy.verification.tier]),
        comparison=">=",
        passed=_TIER_ORDER[report_tier] >= _TIER_ORDER[policy.verification.tier],
        note=f"report tier: {report_tier.value}",
    )


def _evidence_check(figures: KeyFigures) -> Check:
    tied = figures.tied_fraction
    return Check(
        name="evidence_not_degenerate",
        description="share of tied attack scores (most scores equal: nothing to rank, fails closed)",
        value=tied,
        threshold=MAX_TIED_FRACTION,
        comparison="<=",
        passed=_compare(tied, MAX_TIED_FRACTION, "<="),
        note=None if tied is not None else "tie count missing (report written before schema 2)",
    )


def _power_check(
    thresholds: Thresholds, report: VerificationReport, forgetting: list[Check]
) -> tuple[Check, bool]:
    """(the power check, whether the evidence is inconclusive)."""
    original = report.original_figures
    if original is None:
        check = Check(
            name="forgetting_power",
            description="the original model fails at least one forgetting check (else they show nothing)",
            value=None,
            threshold=1.0,
            comparison=">=",
            passed=False,
            note="the original model was not measured: the checks' power is unknown",
        )
        return check, True
    on_original = [c for spec, c in _measured(thresholds, original) if spec.kind == "forgetting"]
    # only a measured failure shows power: a figure the original lacks proves nothing either way
    failing = [c.name for c in on_original if c.value is not None and not c.passed]
    check = Check(
        name="forgetting_power",
        description="the original model fails at least one forgetting check (else they show nothing)",
        value=float(len(failing)),
        threshold=1.0,
        comparison=">=",
        passed=bool(failing),
        note=(
            f"the original fails {', '.join(failing)}"
            if failing
            else "the original model passes every forgetting check: doing nothing would pass too"
        ),
    )
    return check, not failing and all(c.passed for c in forgetting)


def _qualification_checks(policy: Policy, ratio: float | None) -> list[Check]:
    thresholds = policy.verification.thresholds
    checks = []
    if thresholds.min_qualification_score_ratio is not None:
        checks.append(
            Check(
                name="qualification_score_ratio",
                description="qualified final score of the method relative to the oracle's forgetting quality",
                value=ratio,
                threshold=thresholds.min_qualification_score_ratio,
                comparison=">=",
                passed=_compare(ratio, thresholds.min_qualification_score_ratio, ">="),
                note=None if ratio is not None else "no qualification report for this method",
            )
        )
    if policy.certificate.require_qualification_report:
        checks.append(
            Check(
                name="qualification_report",
                description="the method passed a competition-style qualification cited by the certificate",
                value=1.0 if ratio is not None else 0.0,
                threshold=1.0,
                comparison="==",
                passed=ratio is not None,
            )
        )
    return checks


def _exact_check(exact: ExactRetraining) -> Check:
    return Check(
        name="exact_retraining",
        description="retrained from scratch by the SDK's own retrain, on data without the forget set",
        value=float(exact.overlap),
        threshold=0.0,
        comparison="==",
        passed=exact.holds,
        note=f"{exact.unlearner_class}; training root {exact.retrained_training_root[:16]}…",
    )


def evaluate(
    policy: Policy,
    report: VerificationReport,
    *,
    method: str | None = None,
    qualification_score_ratio: float | None = None,
    exact: ExactRetraining | None = None,
) -> Decision:
    """Apply ``policy`` to ``report``.

    Args:
        policy: the policy of the requests.
        report: the verification evidence of the unlearned model (with the original's figures).
        method: the unlearner that produced the model (recorded; its name grants nothing).
        qualification_score_ratio: the method's qualified final score divided by the oracle's forgetting
            quality, when a qualification report exists.
        exact: proof of exact retraining; when it holds, the measured checks are informational.

    Returns:
        The decision with every check; ``passed`` only if every check passed, or if exact retraining is
        proven and the evidence is of the policy's tier. ``inconclusive`` when the original model would
        pass the same forgetting checks.
    """
    report_tier = Tier(str(report.tier))
    thresholds = policy.verification.thresholds
    measured = _measured(thresholds, report.figures)
    forgetting = [c for spec, c in measured if spec.kind == "forgetting"]
    power, inconclusive = _power_check(thresholds, report, forgetting)
    is_exact = exact is not None and exact.holds
    checks = [_tier_check(policy, report_tier), _evidence_check(report.figures)]
    checks += [c for _, c in measured]
    checks.append(power)
    if not is_exact:
        checks += _qualification_checks(policy, qualification_score_ratio)
    if exact is not None:
        checks.append(_exact_check(exact))
    if is_exact:
        checks = [
            c
            if c.passed or c.name in _NEVER_WAIVED
            else c.model_copy(update={"note": "informational: exact retraining forgets by construction"})
            for c in checks
        ]
        passed = all(c.passed for c in checks if c.name in _NEVER_WAIVED)
        inconclusive = False
    else:  # a method that is not proven exact is judged by its checks like any other
        checks = [
            c.model_copy(update={"note": "not accepted as exact retraining: judged by the checks instead"})
            if c.name == "exact_retraining"
            else c
            for c in checks
        ]
        passed = all(c.passed for c in checks if c.name != "exact_retraining")
    return Decision(
        policy_id=policy.id,
        policy_digest=policy.digest,
        tier=report_tier.value,
        method=method,
        basis="exact" if is_exact else "checks",
        passed=passed,
        checks=tuple(checks),
        inconclusive=inconclusive and not passed,
    )
