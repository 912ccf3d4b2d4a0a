"""verify_population on real (small) models, utility figures, and the report's JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest

from deletion_sdk.errors import VerificationError
from deletion_sdk.verification import (
    Tier,
    VerificationReport,
    evaluate_utility,
    per_example_lira,
    proportion_estimate,
    verify_population,
)

from .conftest import Setting


@pytest.fixture(scope="module")
def report(setting: Setting) -> VerificationReport:
    return verify_population(
        setting.original,
        forget=setting.forget,
        holdout=setting.holdout,
        retain=setting.retain,
        test=setting.test,
        original=setting.original,
        reference=setting.retrained,
        device="cpu",
        n_bootstrap=200,
    )


def test_membership_found_in_the_original_not_in_the_retrained_model(report: VerificationReport) -> None:
    # model under test = the original here: it memorised the forget set
    assert report.figures.forget_holdout_auc > 0.9
    assert report.figures.ks_pvalue < 1e-6
    assert report.unlearned.logistic_attack is not None and report.unlearned.logistic_attack.accuracy > 0.75
    assert report.reference is not None
    lo, hi = report.reference.loss_attack.auc_ci
    assert lo <= 0.5 <= hi
    assert report.figures.auc_gap_to_reference is not None and report.figures.auc_gap_to_reference > 0.3
    assert report.figures.forget_accuracy > report.figures.holdout_accuracy


def test_report_shape_and_round_trip(report: VerificationReport, setting: Setting) -> None:
    assert report.tier == Tier.POPULATION
    assert (report.n_forget, report.n_holdout, report.n_retain, report.n_test) == (60, 120, 180, 60)
    assert {(h.signal, h.model) for h in report.histograms} == {
        (s, m) for s in ("loss", "confidence") for m in ("unlearned", "original", "reference")
    }
    for h in report.histograms:
        assert h.edges.size == h.forget_counts.size + 1
        assert h.forget_counts.sum() == 60 and h.holdout_counts.sum() == 120
    assert report.figures.retain_accuracy_ratio_to_original == pytest.approx(1.0)
    assert report.utility.unlearned.mae_years == {}  # 4 classes: not the default age bins
    again = VerificationReport.model_validate_json(report.model_dump_json())
    assert again == report
    assert again.figures.tpr_at_fpr == report.figures.tpr_at_fpr


def test_with_lira_moves_to_the_per_example_tier(report: VerificationReport) -> None:
    rng = np.random.default_rng(0)
    out = rng.normal(size=(8, 60))
    lira = per_example_lira(
        unlearned_confs=rng.normal(size=60) + 3, out_confs=out, retrained_confs=rng.normal(size=60)
    )
    upgraded = report.with_lira(lira)
    assert upgraded.tier == Tier.PER_EXAMPLE
    assert upgraded.figures.lira_excess_flagged_fraction == lira.excess_over_retrained
    assert report.lira is None  # the original report is unchanged


def test_insufficient_or_inconsistent_input_raises(setting: Setting) -> None:
    kwargs = {"holdout": setting.holdout, "retain": setting.retain, "device": "cpu", "n_bootstrap": 0}
    with pytest.raises(VerificationError, match="forget set is empty"):
        verify_population(setting.original, forget=setting.forget.take([]), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(VerificationError, match="also appear in the holdout"):
        verify_population(
            setting.original,
            forget=setting.forget,
            holdout=setting.forget.take([0, 1, 2]),
            retain=setting.retain,
            device="cpu",
        )
    with pytest.raises(VerificationError, match="at least 2"):
        verify_population(
            setting.original,
            forget=setting.forget,
            holdout=setting.holdout.take([0]),
            retain=setting.retain,
            device="cpu",
        )


def test_utility_ratios_against_references(setting: Setting) -> None:
    util = evaluate_utility(
        setting.retrained,
        retain=setting.retain,
        holdout=setting.holdout,
        forget=setting.forget,
        original=setting.original,
        reference=setting.retrained,
        device="cpu",
    )
    assert util.accuracy_ratio_to_reference == {"retain": 1.0, "holdout": 1.0, "forget": 1.0}
    assert util.unlearned.accuracy["retain"].n == 180
    acc = util.unlearned.accuracy["retain"]
    assert acc.ci_low <= acc.value <= acc.ci_high


def test_wilson_interval() -> None:
    est = proportion_estimate(0, 20)
    assert est.value == 0 and est.ci_low == 0 and 0.1 < est.ci_high < 0.2
    assert proportion_estimate(50, 100).ci_low == pytest.approx(0.404, abs=1e-3)


def test_a_last_layer_scaled_towards_zero_cannot_hide_from_the_margin(setting: Setting) -> None:
    """Dividing the last layer by 1e20 ties every loss; the margin attack still sees the original's signal."""
    import copy

    import torch

    cheat = copy.deepcopy(setting.original)
    last = cheat.net[-1]
    with torch.no_grad():
        last.weight /= 1e20
        last.bias /= 1e20
    kwargs = {
        "forget": setting.forget,
        "holdout": setting.holdout,
        "retain": setting.retain,
        "original": setting.original,
        "device": "cpu",
        "n_bootstrap": 50,
    }
    scaled = verify_population(cheat, **kwargs)
    honest = verify_population(setting.original, **kwargs)
    assert scaled.figures.tied_fraction == pytest.approx(1.0)  # every softmax loss is ln(4)
    assert scaled.figures.forget_holdout_auc == pytest.approx(0.5)  # the loss attack is blind
    assert scaled.figures.margin_auc == pytest.approx(honest.figures.margin_auc, abs=1e-9)
    assert scaled.figures.margin_auc is not None and scaled.figures.margin_auc > 0.9
    assert scaled.figures.forget_accuracy_gap == pytest.approx(honest.figures.forget_accuracy_gap)
    # the original's own figures ride along, for the policy's power check
    assert scaled.original_figures is not None
    assert scaled.original_figures.forget_holdout_auc == pytest.approx(honest.figures.forget_holdout_auc)
