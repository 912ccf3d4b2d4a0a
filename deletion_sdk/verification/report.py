"""The evidence of one verification, and the tier-1 (``population``) entry point.

:func:`verify_population` computes evidence; it never decides pass or fail — the policy does, from
:attr:`VerificationReport.figures`. It raises :class:`~deletion_sdk.errors.VerificationError` only when the
input cannot support a verification at all (an empty forget set, a holdout set of fewer than 2 examples, an
empty retain set, or a forget example that also appears in the holdout or retain set).

Every attack is run on the unlearned model and, when given, on the untouched original model (the "before",
which should show membership) and on a model retrained without the forget set (the "reference", which shows
what a perfect unlearner would score on these very sets, including any distribution shift between forget and
holdout examples).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import VerificationError
from deletion_sdk.logging import get_logger
from deletion_sdk.policy.schema import Tier  # one vocabulary for policies and reports
from deletion_sdk.verification._arrays import FloatArray, FrozenModel, IntArray
from deletion_sdk.verification.attacks import (
    DEFAULT_FPRS,
    AttackResult,
    CrossValidatedAttack,
    RocCurve,
    TwoSampleTests,
    logistic_regression_attack,
    population_attack,
    roc_curve,
    two_sample_tests,
)
from deletion_sdk.verification.forgetting_quality import ForgettingQuality
from deletion_sdk.verification.lira import LiraReport
from deletion_sdk.verification.probes import ProbeFigures, run_probes
from deletion_sdk.verification.signals import Signals, compute_signals
from deletion_sdk.verification.utility import UtilityReport, model_utility, utility_report

__all__ = [
    "Histogram",
    "KeyFigures",
    "ModelEvidence",
    "Tier",
    "VerificationReport",
    "model_evidence",
    "verify_population",
]

SCHEMA_VERSION = 2
Role = Literal["unlearned", "original", "reference"]
_log = get_logger(__name__)


class Histogram(FrozenModel):
    """Counts of forget and holdout values of one signal under one model, on shared bin edges.

    Values outside the edges are counted in the first / last bin.

    Attributes:
        signal: ``loss`` or ``confidence``.
        model: ``unlearned`` (after), ``original`` (before) or ``reference`` (retrained).
        edges: ``[bins + 1]`` bin edges, shared by every model for the same signal.
        forget_counts: ``[bins]``.
        holdout_counts: ``[bins]``.
    """

    signal: Literal["loss", "confidence"]
    model: Role
    edges: FloatArray
    forget_counts: IntArray
    holdout_counts: IntArray


class ModelEvidence(FrozenModel):
    """Every population figure of one model, forget (member) vs holdout (non-member).

    Attributes:
        role: which model this is.
        loss_attack: threshold attack on the loss (low loss = member).
        confidence_attack: threshold attack on the logit-scaled confidence (high = member).
        margin_attack: threshold attack on the logit margin (high = member); survives any rescaling of
            the logits (None in reports written before schema 2).
        tied_fraction: share of the pooled forget and holdout examples whose loss or margin equals another
            example's (the larger of the two); near 1 the evidence is degenerate (None before schema 2).
        logistic_attack: the starting kit's ``simple_mia`` on losses (None with fewer than 10 per set).
        loss_tests: KS and Mann–Whitney tests of forget vs holdout losses.
        confidence_tests: the same on confidences.
        roc: loss-attack ROC curve, downsampled.
    """

    role: Role
    loss_attack: AttackResult
    confidence_attack: AttackResult
    margin_attack: AttackResult | None = None
    tied_fraction: float | None = None
    logistic_attack: CrossValidatedAttack | None
    loss_tests: TwoSampleTests
    confidence_tests: TwoSampleTests
    roc: RocCurve


class KeyFigures(FrozenModel):
    """The flat figures a policy checks (None: not measured in this tier or without that reference).

    Attributes:
        forget_holdout_auc: loss-attack AUC on the unlearned model (0.5 = no membership signal).
        forget_holdout_auc_ci: its bootstrap interval.
        margin_auc: margin-attack AUC on the unlearned model (scale-free).
        margin_auc_ci: its bootstrap interval.
        tied_fraction: share of tied loss or margin values (degenerate evidence near 1).
        forget_accuracy_gap: forget accuracy minus that of people never seen (the reference model's forget
            accuracy when a reference is given, else the holdout accuracy); ~0 after real forgetting,
            positive when the forget set is still recognised, negative when it is over-forgotten.
        relearn_forget_accuracy_gap: the forget-accuracy gap after a few retain-only training steps
            (:mod:`deletion_sdk.verification.probes`; None when the probes did not run).
        perturbed_forget_accuracy_gap: the forget-accuracy gap under a small perturbation towards the
            true labels.
        ablated_attack_auc: the loss and margin attacks' largest AUC with the most forget-specific
            output-layer input units switched off (:mod:`deletion_sdk.verification.ablation`).
        ablation_auc_gain: how far the ablation raises that AUC above the model's own (or 0.5).
        weight_distance_to_original: relative L2 distance of the weights to the original's.
        confidence_auc: confidence-attack AUC on the unlearned model.
        tpr_at_fpr: loss-attack {FPR: TPR} on the unlearned model.
        original_auc: loss-attack AUC on the original model.
        reference_auc: loss-attack AUC on the retrained reference.
        auc_gap_to_reference: ``forget_holdout_auc − reference_auc``.
        ks_pvalue: KS p-value, forget vs holdout losses (small = distinguishable).
        mannwhitney_pvalue: Mann–Whitney p-value on the same.
        logistic_attack_accuracy: ``simple_mia`` accuracy.
        retain_accuracy, holdout_accuracy, test_accuracy, forget_accuracy: unlearned model's accuracies.
        retain_accuracy_ratio_to_original, holdout_accuracy_ratio_to_original,
            test_accuracy_ratio_to_original: unlearned / original.
        retain_accuracy_ratio_to_reference, holdout_accuracy_ratio_to_reference,
            test_accuracy_ratio_to_reference: unlearned / retrained reference.
        lira_flagged_fraction: {FPR: fraction of forget examples LiRA flags on the unlearned model}.
        lira_excess_flagged_fraction: {FPR: that fraction minus the retrained calibrator's}.
        forgetting_quality: the challenge's F (qualification tier).
        final_score: F · (RA_U/RA_R) · (TA_U/TA_R) (qualification tier).
    """

    forget_holdout_auc: float
    forget_holdout_auc_ci: tuple[float, float]
    margin_auc: float | None = None
    margin_auc_ci: tuple[float, float] | None = None
    tied_fraction: float | None = None
    forget_accuracy_gap: float | None = None
    relearn_forget_accuracy_gap: float | None = None
    perturbed_forget_accuracy_gap: float | None = None
    ablated_attack_auc: float | None = None
    ablation_auc_gain: float | None = None
    weight_distance_to_original: float | None = None
    confidence_auc: float
    tpr_at_fpr: dict[float, float]
    original_auc: float | None = None
    reference_auc: float | None = None
    auc_gap_to_reference: float | None = None
    ks_pvalue: float
    mannwhitney_pvalue: float
    logistic_attack_accuracy: float | None = None
    retain_accuracy: float
    holdout_accuracy: float
    test_accuracy: float | None = None
    forget_accuracy: float
    retain_accuracy_ratio_to_original: float | None = None
    holdout_accuracy_ratio_to_original: float | None = None
    test_accuracy_ratio_to_original: float | None = None
    retain_accuracy_ratio_to_reference: float | None = None
    holdout_accuracy_ratio_to_reference: float | None = None
    test_accuracy_ratio_to_reference: float | None = None
    lira_flagged_fraction: dict[float, float] | None = None
    lira_excess_flagged_fraction: dict[float, float] | None = None
    forgetting_quality: float | None = None
    final_score: float | None = None


class VerificationReport(FrozenModel):
    """The evidence of one verification. ``model_dump_json`` / ``model_validate_json`` round-trip.

    Attributes:
        schema_version: version of this layout.
        tier: the most expensive tier whose evidence this report holds.
        seed: seeds the bootstrap and subsampling.
        n_forget, n_holdout, n_retain, n_test: examples behind the figures (``n_retain`` after subsampling).
        unlearned: evidence on the model under test.
        original: evidence on the model before unlearning, if given.
        original_figures: the same key figures computed for the original model (what "doing nothing"
            would score): a check the original passes has no power to show forgetting.
        reference: evidence on a model retrained without the forget set, if given.
        utility: accuracies / MAE with intervals, and ratios.
        histograms: loss and confidence histograms, forget vs holdout, for each model given.
        lira: per-example LiRA evidence (tier ``per_example``).
        forgetting: the challenge metric (tier ``qualification``).
        figures: the flat figures a policy checks.
    """

    schema_version: int = SCHEMA_VERSION
    tier: Tier
    seed: int
    n_forget: int
    n_holdout: int
    n_retain: int
    n_test: int | None
    unlearned: ModelEvidence
    original: ModelEvidence | None
    reference: ModelEvidence | None
    utility: UtilityReport
    histograms: list[Histogram]
    lira: LiraReport | None = None
    forgetting: ForgettingQuality | None = None
    figures: KeyFigures
    original_figures: KeyFigures | None = None

    def with_lira(self, lira: LiraReport) -> VerificationReport:
        """A copy carrying per-example LiRA evidence, at tier ``per_example`` (or higher if already)."""
        tier = self.tier if self.tier == Tier.QUALIFICATION else Tier.PER_EXAMPLE
        figures = self.figures.model_copy(
            update={
                "lira_flagged_fraction": dict(lira.target.flagged_fraction),
                "lira_excess_flagged_fraction": lira.excess_over_retrained,
            }
        )
        original_figures = self.original_figures
        if original_figures is not None and lira.original is not None:
            calibrator = lira.retrained
            original_figures = original_figures.model_copy(
                update={
                    "lira_flagged_fraction": dict(lira.original.flagged_fraction),
                    "lira_excess_flagged_fraction": None
                    if calibrator is None
                    else {
                        f: lira.original.flagged_fraction[f] - calibrator.flagged_fraction[f]
                        for f in lira.original.flagged_fraction
                    },
                }
            )
        return self.model_copy(
            update={"lira": lira, "tier": tier, "figures": figures, "original_figures": original_figures}
        )


def model_evidence(
    role: Role,
    forget: Signals,
    holdout: Signals,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    fprs: tuple[float, ...] = DEFAULT_FPRS,
) -> ModelEvidence:
    """All population attacks and tests of one model from its forget and holdout :class:`Signals`."""
    common: dict[str, Any] = {"n_bootstrap": n_bootstrap, "seed": seed, "fprs": fprs}
    logistic = None
    if min(forget.n, holdout.n) >= 10:
        logistic = logistic_regression_attack(forget.loss, holdout.loss, seed=seed)
    return ModelEvidence(
        role=role,
        loss_attack=population_attack(forget.loss, holdout.loss, higher_is_member=False, **common),
        confidence_attack=population_attack(forget.confidence, holdout.confidence, **common),
        margin_attack=population_attack(forget.margin, holdout.margin, **common),
        tied_fraction=max(
            _tied_fraction(forget.loss, holdout.loss), _tied_fraction(forget.margin, holdout.margin)
        ),
        logistic_attack=logistic,
        loss_tests=two_sample_tests(forget.loss, holdout.loss),
        confidence_tests=two_sample_tests(forget.confidence, holdout.confidence),
        roc=roc_curve(forget.loss, holdout.loss, higher_is_member=False),
    )


def _tied_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the pooled values that equal another value (0: all distinct, 1: all one value)."""
    pooled = np.concatenate([a, b])
    if pooled.size < 2:
        return 0.0
    _, counts = np.unique(pooled, return_counts=True)
    return float(counts[counts > 1].sum() / pooled.size)


def _histograms(signals: dict[Role, tuple[Signals, Signals]], bins: int = 30) -> list[Histogram]:
    out: list[Histogram] = []
    for name in ("loss", "confidence"):
        pooled = np.concatenate([getattr(s, name) for pair in signals.values() for s in pair])
        lo, hi = np.quantile(pooled, [0.005, 0.995]) if pooled.size else (0.0, 1.0)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        for role, (f, h) in signals.items():
            counts = [np.histogram(np.clip(getattr(s, name), lo, hi), bins=edges)[0] for s in (f, h)]
            out.append(
                Histogram(
                    signal=name,  # type: ignore[arg-type]
                    model=role,
                    edges=edges,
                    forget_counts=counts[0],
                    holdout_counts=counts[1],
                )
            )
    return out


def _check_sets(forget: FaceTensors, holdout: FaceTensors, retain: FaceTensors) -> None:
    if len(forget) == 0:
        raise VerificationError("cannot verify: the forget set is empty", n_forget=0)
    if len(holdout) < 2:
        raise VerificationError(
            f"cannot verify: the holdout set needs at least 2 examples, got {len(holdout)}",
            n_holdout=len(holdout),
        )
    if len(retain) == 0:
        raise VerificationError("cannot verify: the retain set is empty", n_retain=0)
    forget_ids = set(forget.example_ids)
    for name, other in (("holdout", holdout), ("retain", retain)):
        shared = forget_ids.intersection(other.example_ids)
        if shared:
            raise VerificationError(
                f"cannot verify: {len(shared)} forget example(s) also appear in the {name} set",
                overlapping=len(shared),
            )


def verify_population(
    model: nn.Module,
    *,
    forget: FaceTensors,
    holdout: FaceTensors,
    retain: FaceTensors,
    test: FaceTensors | None = None,
    original: nn.Module | None = None,
    reference: nn.Module | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    n_bootstrap: int = 500,
    max_retain: int = 2000,
    age_bins: AgeBins | None = None,
    batch_size: int = 512,
    probes: bool | tuple[str, ...] = False,
) -> VerificationReport:
    """Tier-1 evidence: population membership attacks and utility, forget vs holdout.

    Args:
        model: the unlearned model.
        forget: the forgotten examples (members of the original training set).
        holdout: examples of people never trained on (non-members).
        retain: the training examples kept (accuracy only; subsampled to ``max_retain`` rows).
        test: optional test set (accuracy only).
        original: optional model before unlearning (the "before" evidence).
        reference: optional model retrained without the forget set (the "perfect unlearner" evidence).
        device: where to run inference; None uses each model's own device.
        seed: seeds the bootstrap, the retain subsample and the cross-validation.
        n_bootstrap: bootstrap resamples behind each attack's intervals.
        max_retain: most retain rows evaluated.
        age_bins: age groups for the MAE (default :class:`AgeBins`).
        batch_size: rows per forward pass.
        probes: also run the probes (:func:`run_probes`) on the model (not on the original): True for
            all, or the names of those wanted (``"relearn"``, ``"perturb"``, ``"ablate"``).

    Returns:
        :class:`VerificationReport` at tier ``population``. It holds evidence only; the policy decides.

    Raises:
        VerificationError: insufficient or inconsistent input (see the module docstring).
    """
    _check_sets(forget, holdout, retain)
    if len(retain) > max_retain:
        rows = np.sort(np.random.default_rng(seed).choice(len(retain), size=max_retain, replace=False))
        retain = retain.take(rows.tolist())
    sets = {"forget": forget, "holdout": holdout, "retain": retain}
    if test is not None:
        sets["test"] = test

    models: dict[Role, nn.Module] = {"unlearned": model}
    if original is not None:
        models["original"] = original
    if reference is not None:
        models["reference"] = reference

    evidence: dict[Role, ModelEvidence] = {}
    utilities = {}
    pairs: dict[Role, tuple[Signals, Signals]] = {}
    for role, m in models.items():
        sig = {k: compute_signals(m, v, device=device, batch_size=batch_size) for k, v in sets.items()}
        pairs[role] = (sig["forget"], sig["holdout"])
        evidence[role] = model_evidence(
            role, sig["forget"], sig["holdout"], n_bootstrap=n_bootstrap, seed=seed
        )
        utilities[role] = model_utility(sig, age_bins=age_bins)
    utility = utility_report(
        utilities["unlearned"], original=utilities.get("original"), reference=utilities.get("reference")
    )
    figures = _figures(evidence, utility)
    original_figures = None if original is None else _original_figures(evidence, utilities)
    if probes:
        wanted: tuple[str, ...] = ("relearn", "perturb", "ablate") if probes is True else tuple(probes or ())
        common: dict[str, Any] = {
            "forget": forget,
            "holdout": holdout,
            "retain": retain,
            "seed": seed,
            "device": device or "auto",
            "relearn": "relearn" in wanted,
            "perturb": "perturb" in wanted,
            "ablate": "ablate" in wanted,
        }
        figures = _with_probes(figures, run_probes(model, original=original, **common))
        # The original is not probed: its attacks already show the power, and a figure it lacks is
        # not counted either way by the power check.
    report = VerificationReport(
        tier=Tier.POPULATION,
        seed=seed,
        n_forget=len(forget),
        n_holdout=len(holdout),
        n_retain=len(retain),
        n_test=None if test is None else len(test),
        unlearned=evidence["unlearned"],
        original=evidence.get("original"),
        reference=evidence.get("reference"),
        utility=utility,
        histograms=_histograms(pairs),
        figures=figures,
        original_figures=original_figures,
    )
    _log.info(
        "verification.population",
        n_forget=report.n_forget,
        n_holdout=report.n_holdout,
        auc=round(report.figures.forget_holdout_auc, 4),
    )
    return report


def _with_probes(figures: KeyFigures, probed: ProbeFigures) -> KeyFigures:
    return figures.model_copy(
        update={
            "relearn_forget_accuracy_gap": probed.relearn_forget_accuracy_gap,
            "perturbed_forget_accuracy_gap": probed.perturbed_forget_accuracy_gap,
            "ablated_attack_auc": probed.ablated_attack_auc,
            "ablation_auc_gain": probed.ablation_auc_gain,
            "weight_distance_to_original": probed.weight_distance,
        }
    )


def _original_figures(evidence: dict[Role, ModelEvidence], utilities: dict[Role, Any]) -> KeyFigures:
    """The key figures of the original model, computed exactly as the unlearned model's are."""
    as_target: dict[Role, ModelEvidence] = {"unlearned": evidence["original"]}
    if "reference" in evidence:
        as_target["reference"] = evidence["reference"]
    utility = utility_report(
        utilities["original"], original=utilities["original"], reference=utilities.get("reference")
    )
    return _figures(as_target, utility)


def _figures(evidence: dict[Role, ModelEvidence], utility: UtilityReport) -> KeyFigures:
    u = evidence["unlearned"]
    orig, ref = evidence.get("original"), evidence.get("reference")
    acc = utility.unlearned.accuracy
    unseen = (
        utility.reference.accuracy["forget"].value
        if utility.reference is not None and "forget" in utility.reference.accuracy
        else acc["holdout"].value
    )
    r_orig = utility.accuracy_ratio_to_original or {}
    r_ref = utility.accuracy_ratio_to_reference or {}
    return KeyFigures(
        forget_holdout_auc=u.loss_attack.auc,
        forget_holdout_auc_ci=u.loss_attack.auc_ci,
        margin_auc=None if u.margin_attack is None else u.margin_attack.auc,
        margin_auc_ci=None if u.margin_attack is None else u.margin_attack.auc_ci,
        tied_fraction=u.tied_fraction,
        forget_accuracy_gap=acc["forget"].value - unseen,
        confidence_auc=u.confidence_attack.auc,
        tpr_at_fpr=dict(u.loss_attack.tpr_at_fpr),
        original_auc=None if orig is None else orig.loss_attack.auc,
        reference_auc=None if ref is None else ref.loss_attack.auc,
        auc_gap_to_reference=None if ref is None else u.loss_attack.auc - ref.loss_attack.auc,
        ks_pvalue=u.loss_tests.ks_pvalue,
        mannwhitney_pvalue=u.loss_tests.mannwhitney_pvalue,
        logistic_attack_accuracy=None if u.logistic_attack is None else u.logistic_attack.accuracy,
        retain_accuracy=acc["retain"].value,
        holdout_accuracy=acc["holdout"].value,
        test_accuracy=acc["test"].value if "test" in acc else None,
        forget_accuracy=acc["forget"].value,
        retain_accuracy_ratio_to_original=r_orig.get("retain"),
        holdout_accuracy_ratio_to_original=r_orig.get("holdout"),
        test_accuracy_ratio_to_original=r_orig.get("test"),
        retain_accuracy_ratio_to_reference=r_ref.get("retain"),
        holdout_accuracy_ratio_to_reference=r_ref.get("holdout"),
        test_accuracy_ratio_to_reference=r_ref.get("test"),
    )
