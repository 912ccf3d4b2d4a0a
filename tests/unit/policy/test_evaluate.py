"""evaluate(policy, report) -> Decision: every check listed, fail closed, exact methods informational."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from deletion_sdk.data import SynthFacesConfig, generate_faces, subject_disjoint_split
from deletion_sdk.policy import Decision, evaluate, load_policy
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


def _with(report: VerificationReport, **figures: Any) -> VerificationReport:
    return report.model_copy(update={"figures": report.figures.model_copy(update=figures)})


GOOD = {
    "forget_holdout_auc": 0.52,
    "retain_accuracy_ratio_to_original": 0.95,
    "holdout_accuracy_ratio_to_original": 0.99,
    "reference_auc": None,
}


def test_every_threshold_becomes_a_check(report: VerificationReport) -> None:
    decision = evaluate(load_policy("gdpr-art17"), _with(report, **GOOD), method="finetune")
    assert isinstance(decision, Decision)
    names = [c.name for c in decision.checks]
    assert names == [
        "verification_tier",
        "attack_auc",
        "auc_gap_to_reference",
        "retain_accuracy_ratio",
        "holdout_accuracy_ratio",
    ]
    assert decision.passed and decision.basis == "checks" and decision.summary().startswith("PASS")
    gap = next(c for c in decision.checks if c.name == "auc_gap_to_reference")
    assert gap.value == pytest.approx(0.02) and "0.5" in (gap.note or "")


def test_one_failed_check_fails_the_decision_and_is_named(report: VerificationReport) -> None:
    decision = evaluate(load_policy("gdpr-art17"), _with(report, **{**GOOD, "forget_holdout_auc": 0.70}))
    assert not decision.passed
    assert {c.name for c in decision.failed_checks} == {"attack_auc", "auc_gap_to_reference"}
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


def test_retrain_is_exact_so_failed_checks_are_informational(report: VerificationReport) -> None:
    decision = evaluate(
        load_policy("gdpr-art17"), _with(report, **{**GOOD, "forget_holdout_auc": 0.70}), method="retrain"
    )
    assert decision.passed and decision.basis == "exact"
    auc = next(c for c in decision.checks if c.name == "attack_auc")
    assert not auc.passed and "informational" in (auc.note or "")


def test_decision_round_trips(report: VerificationReport) -> None:
    decision = evaluate(load_policy("ccpa"), _with(report, **GOOD), method="finetune")
    assert Decision.model_validate_json(decision.model_dump_json()) == decision
