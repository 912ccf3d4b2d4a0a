"""evaluate(policy, report) -> Decision: every check listed, fail closed, exact only when proven."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from deletion_sdk.data import SynthFacesConfig, generate_faces, subject_disjoint_split
from deletion_sdk.policy import Decision, ExactRetraining, evaluate, load_policy
from deletion_sdk.policy.evaluate import EXACT_UNLEARNER_CLASS
from deletion_sdk.training import build_model
from deletion_sdk.verification import VerificationReport, verify_population


@pytest.fixture(scope="module")
def report() -> VerificationReport:
    torch.manual_seed(0)
    faces = generate_faces(SynthFacesConfig(n_subjects=40, image_size=16, seed=3))
    parts = subject_disjoint_split(
        faces.data, fractions={"forget": 0.2, "holdout": 0.3, "retain": 0.5}, seed=3
    )
    model = build_model("tiny_cnn", num_classes=10, image_size=16)
    original = build_model("tiny_cnn", num_classes=10, image_size=16)
    return verify_population(
        model,
        forget=parts["forget"],
        holdout=parts["holdout"],
        retain=parts["retain"],
        original=original,
        n_bootstrap=50,
    )


GOOD = {
    "forget_holdout_auc": 0.52,
    "margin_auc": 0.53,
    "tied_fraction": 0.0,
    "forget_accuracy_gap": 0.02,
    "perturbed_forget_accuracy_gap": 0.03,
    "ablated_attack_auc": 0.55,
    "ablation_auc_gain": 0.02,
    "retain_accuracy_ratio_to_original": 0.95,
    "holdout_accuracy_ratio_to_original": 0.99,
    "reference_auc": None,
}
# What the original model scores: it remembers the forget set, so the forgetting checks have power.
REMEMBERS = {
    **GOOD,
    "forget_holdout_auc": 0.71,
    "margin_auc": 0.73,
    "forget_accuracy_gap": 0.30,
    "perturbed_forget_accuracy_gap": 0.33,
    "ablated_attack_auc": 0.74,
    "ablation_auc_gain": 0.03,
}


def _with(
    report: VerificationReport, original: dict[str, Any] | None = None, **figures: Any
) -> VerificationReport:
    before = report.figures.model_copy(update=original if original is not None else REMEMBERS)
    return report.model_copy(
        update={"figures": report.figures.model_copy(update=figures), "original_figures": before}
    )


def test_every_threshold_becomes_a_check(report: VerificationReport) -> None:
    decision = evaluate(load_policy("gdpr-art17"), _with(report, **GOOD), method="finetune")
    assert isinstance(decision, Decision)
    names = [c.name for c in decision.checks]
    assert names == [
        "verification_tier",
        "evidence_not_degenerate",
        "attack_auc",
        "margin_attack_auc",
        "auc_gap_to_reference",
        "forget_accuracy_gap",
        "perturbed_accuracy_gap",
        "ablation_auc_gain",
        "retain_accuracy_ratio",
        "holdout_accuracy_ratio",
        "forgetting_power",
    ]
    assert decision.passed and decision.basis == "checks" and decision.summary().startswith("PASS")
    assert decision.outcome == "passed"
    gap = next(c for c in decision.checks if c.name == "auc_gap_to_reference")
    assert gap.value == pytest.approx(0.03) and "margin" in (gap.note or "") and "0.5" in (gap.note or "")


def test_one_failed_check_fails_the_decision_and_is_named(report: VerificationReport) -> None:
    decision = evaluate(load_policy("gdpr-art17"), _with(report, **{**GOOD, "forget_holdout_auc": 0.70}))
    assert not decision.passed
    assert {c.name for c in decision.failed_checks} == {"attack_auc", "auc_gap_to_reference"}
    assert decision.outcome == "failed" and not decision.inconclusive
    assert "attack_auc = 0.7" in decision.summary()


def test_threshold_is_inclusive(report: VerificationReport) -> None:
    policy = load_policy("gdpr-art17")
    limit = policy.verification.thresholds.max_attack_auc
    decision = evaluate(policy, _with(report, **{**GOOD, "forget_holdout_auc": limit}))
    assert next(c for c in decision.checks if c.name == "attack_auc").passed


def test_gap_uses_a_measured_reference_when_present(report: VerificationReport) -> None:
    decision = evaluate(load_policy("gdpr-art17"), _with(report, **{**GOOD, "reference_auc": 0.60}))
    gap = next(c for c in decision.checks if c.name == "auc_gap_to_reference")
    assert gap.value == pytest.approx(0.08) and "measured" in (gap.note or "")


def test_missing_or_nan_figures_fail_closed(report: VerificationReport) -> None:
    decision = evaluate(
        load_policy("gdpr-art17"),
        _with(
            report,
            **{
                **GOOD,
                "retain_accuracy_ratio_to_original": None,
                "holdout_accuracy_ratio_to_original": float("nan"),
            },
        ),
    )
    failed = {c.name for c in decision.failed_checks}
    assert failed == {"retain_accuracy_ratio", "holdout_accuracy_ratio"}
    assert not decision.passed


def test_per_example_policy_fails_a_population_report(report: VerificationReport) -> None:
    decision = evaluate(load_policy("strict"), _with(report, **GOOD), method="neggrad_plus")
    failed = {c.name for c in decision.failed_checks}
    # cheaper tier than demanded; no LiRA evidence; no qualification report for the method
    assert {"verification_tier", "lira_excess_flagged", "qualification_report"} <= failed
    lira = next(c for c in decision.checks if c.name == "lira_excess_flagged")
    assert lira.value is None and "missing" in (lira.note or "")


def _exact(**changes: Any) -> ExactRetraining:
    proof = {
        "unlearner_class": EXACT_UNLEARNER_CLASS,
        "retrained_training_root": "ab" * 32,
        "forget_merkle_root": "cd" * 32,
        "overlap": 0,
    }
    return ExactRetraining(**{**proof, **changes})


def test_proven_exact_retraining_makes_failed_checks_informational(report: VerificationReport) -> None:
    decision = evaluate(
        load_policy("gdpr-art17"),
        _with(report, **{**GOOD, "forget_holdout_auc": 0.70}),
        method="retrain",
        exact=_exact(),
    )
    assert decision.passed and decision.basis == "exact"
    auc = next(c for c in decision.checks if c.name == "attack_auc")
    assert not auc.passed and "informational" in (auc.note or "")
    proof = next(c for c in decision.checks if c.name == "exact_retraining")
    assert proof.passed and proof.value == 0.0


def test_the_name_retrain_grants_nothing(report: VerificationReport) -> None:
    bad = _with(report, **{**GOOD, "forget_holdout_auc": 0.70})
    decision = evaluate(load_policy("gdpr-art17"), bad, method="retrain")
    assert not decision.passed and decision.basis == "checks"


@pytest.mark.parametrize(
    "proof",
    [
        {"unlearner_class": "my_plugin.Retrain"},  # registered under the name with force=True
        {"overlap": 1},  # the retrained model's training set held a forget example
    ],
)
def test_an_exact_claim_that_does_not_hold_is_judged_by_its_checks(
    report: VerificationReport, proof: dict[str, Any]
) -> None:
    bad = _with(report, **{**GOOD, "forget_holdout_auc": 0.70})
    decision = evaluate(load_policy("gdpr-art17"), bad, method="retrain", exact=_exact(**proof))
    assert not decision.passed and decision.basis == "checks"
    assert "attack_auc" in {c.name for c in decision.failed_checks}
    good = evaluate(load_policy("gdpr-art17"), _with(report, **GOOD), method="retrain", exact=_exact(**proof))
    assert good.passed and good.basis == "checks"
    claim = next(c for c in good.checks if c.name == "exact_retraining")
    assert not claim.passed and "not accepted" in (claim.note or "")


def test_exact_retraining_never_waives_the_evidence_tier(report: VerificationReport) -> None:
    decision = evaluate(load_policy("strict"), _with(report, **GOOD), method="retrain", exact=_exact())
    assert not decision.passed
    assert "verification_tier" in {c.name for c in decision.failed_checks}


def test_a_check_the_original_would_pass_makes_the_decision_inconclusive(report: VerificationReport) -> None:
    # e.g. a no-op on a small forget set: the original itself shows no membership signal
    decision = evaluate(load_policy("gdpr-art17"), _with(report, original=GOOD, **GOOD))
    assert not decision.passed and decision.inconclusive and decision.outcome == "inconclusive"
    assert decision.summary().startswith("INCONCLUSIVE")
    power = next(c for c in decision.checks if c.name == "forgetting_power")
    assert not power.passed and "doing nothing" in (power.note or "")
    # without the original's figures the power is unknown: fails closed, inconclusive
    unmeasured = _with(report, **GOOD).model_copy(update={"original_figures": None})
    assert evaluate(load_policy("gdpr-art17"), unmeasured).inconclusive


@pytest.mark.parametrize(
    ("figure", "value", "check"),
    [
        ("margin_auc", 0.73, "margin_attack_auc"),  # logits scaled down: the loss ties, the margin does not
        ("forget_holdout_auc", 0.05, "auc_gap_to_reference"),  # over-forgotten: far less confident
        ("forget_accuracy_gap", -0.25, "forget_accuracy_gap"),  # predictions pushed to wrong classes
        ("forget_accuracy_gap", 0.25, "forget_accuracy_gap"),  # still recognised
        ("perturbed_forget_accuracy_gap", 0.3, "perturbed_accuracy_gap"),  # recognised when nudged
        ("ablation_auc_gain", 0.25, "ablation_auc_gain"),  # a hidden detector switched off
        ("tied_fraction", 1.0, "evidence_not_degenerate"),  # every loss rounds to ln(classes)
    ],
)
def test_forgetting_is_judged_in_both_directions_and_on_degenerate_evidence(
    report: VerificationReport, figure: str, value: float, check: str
) -> None:
    decision = evaluate(load_policy("gdpr-art17"), _with(report, **{**GOOD, figure: value}))
    assert not decision.passed and not decision.inconclusive
    assert check in {c.name for c in decision.failed_checks}


def test_decision_round_trips(report: VerificationReport) -> None:
    decision = evaluate(load_policy("ccpa"), _with(report, **GOOD), method="finetune")
    assert Decision.model_validate_json(decision.model_dump_json()) == decision
