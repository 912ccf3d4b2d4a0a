"""Verification: signals, membership attacks, statistical tests, the challenge's forgetting quality, utility.

Tiers (DESIGN.md): ``population`` (:func:`verify_population`: attacks on one model, forget vs holdout),
``per_example`` (:func:`per_example_lira`: LiRA / U-LiRA against reference models), ``qualification``
(:func:`forgetting_quality`, :func:`qualify`: the NeurIPS 2023 challenge metric over many unlearned and
retrained models). :class:`ShadowBank` holds the reference models of the per-example tier.
Functions here return evidence; a policy turns evidence into a decision.
"""

from __future__ import annotations

from deletion_sdk.verification.attacks import (
    AttackResult,
    CrossValidatedAttack,
    RocCurve,
    TwoSampleTests,
    logistic_regression_attack,
    population_attack,
    roc_curve,
    two_sample_tests,
)
from deletion_sdk.verification.estimates import Estimate, mean_estimate, proportion_estimate
from deletion_sdk.verification.forgetting_quality import (
    ForgettingQuality,
    bin_scores,
    final_score,
    forgetting_quality,
    oracle_forgetting_quality,
)
from deletion_sdk.verification.lira import (
    LiraReport,
    LiraResult,
    fit_gaussians,
    lira_scores,
    lira_test,
    per_example_lira,
    split_in_out,
)
from deletion_sdk.verification.qualification import (
    QualificationReport,
    StoredQualification,
    load_qualification,
    qualify,
    select_forget_set,
    store_qualification,
)
from deletion_sdk.verification.report import (
    Histogram,
    KeyFigures,
    ModelEvidence,
    Tier,
    VerificationReport,
    model_evidence,
    verify_population,
)
from deletion_sdk.verification.shadow import (
    ReferenceConfidences,
    ShadowBank,
    ShadowBankIndex,
    default_shadow_models,
)
from deletion_sdk.verification.signals import (
    Signals,
    compute_signals,
    logit_scaled_confidence,
    per_example_loss,
    prediction_entropy,
    signals_from_logits,
)
from deletion_sdk.verification.utility import (
    ModelUtility,
    UtilityReport,
    evaluate_utility,
    model_utility,
    utility_report,
)

__all__ = [
    "AttackResult",
    "CrossValidatedAttack",
    "Estimate",
    "ForgettingQuality",
    "Histogram",
    "KeyFigures",
    "LiraReport",
    "LiraResult",
    "ModelEvidence",
    "ModelUtility",
    "QualificationReport",
    "ReferenceConfidences",
    "RocCurve",
    "ShadowBank",
    "ShadowBankIndex",
    "Signals",
    "StoredQualification",
    "Tier",
    "TwoSampleTests",
    "UtilityReport",
    "VerificationReport",
    "bin_scores",
    "compute_signals",
    "default_shadow_models",
    "evaluate_utility",
    "final_score",
    "fit_gaussians",
    "forgetting_quality",
    "lira_scores",
    "lira_test",
    "load_qualification",
    "logistic_regression_attack",
    "logit_scaled_confidence",
    "mean_estimate",
    "model_evidence",
    "model_utility",
    "oracle_forgetting_quality",
    "per_example_lira",
    "per_example_loss",
    "population_attack",
    "prediction_entropy",
    "proportion_estimate",
    "qualify",
    "roc_curve",
    "select_forget_set",
    "signals_from_logits",
    "split_in_out",
    "store_qualification",
    "two_sample_tests",
    "utility_report",
    "verify_population",
]
