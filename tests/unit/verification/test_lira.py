"""LiRA / U-LiRA statistics on confidences: calibration, online p-values, flagged fractions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from deletion_sdk.errors import InputError
from deletion_sdk.verification import (
    LiraReport,
    fit_gaussians,
    lira_scores,
    lira_test,
    per_example_lira,
    split_in_out,
)


def _population(seed: int, n: int = 4000, k: int = 64, gap: float = 2.0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 3, n)
    sd = rng.uniform(0.5, 2.0, n)
    out = rng.normal(mu, sd, size=(k, n))
    inn = rng.normal(mu + gap * sd, sd, size=(k, n))
    unseen = rng.normal(mu, sd)
    seen = rng.normal(mu + gap * sd, sd)
    return out, inn, unseen, seen


def test_offline_flags_about_the_nominal_fraction_of_unseen_examples() -> None:
    out, _, unseen, seen = _population(0)
    never = lira_test(unseen, out_confs=out)
    assert never.mode == "offline"
    for fpr, frac in never.flagged_fraction.items():
        assert frac == pytest.approx(fpr, abs=0.012)
        lo, hi = never.flagged_fraction_ci[fpr]
        assert lo <= frac <= hi
    member = lira_test(seen, out_confs=out)
    assert member.flagged_fraction[0.01] > 0.2
    np.testing.assert_allclose(never.scores, stats.norm.sf(unseen, out.mean(0), out.std(0, ddof=1)))


def test_online_p_value_matches_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    out = rng.normal([0.0, 1.0, -2.0], [1.0, 0.5, 2.0], size=(500, 3))
    inn = rng.normal([2.0, 1.5, -1.0], [0.5, 1.5, 2.0], size=(500, 3))
    target = np.array([1.0, 2.5, -1.5])
    p, llr = lira_scores(target, out_confs=out, in_confs=inn)
    assert llr is not None
    mo, so = out.mean(0), out.std(0, ddof=1)
    mi, si = inn.mean(0), inn.std(0, ddof=1)

    def lam(x: np.ndarray) -> np.ndarray:
        return stats.norm.logpdf(x, mi, si) - stats.norm.logpdf(x, mo, so)  # type: ignore[no-any-return]

    z = rng.normal(mo, so, size=(400_000, 3))
    np.testing.assert_allclose(p, (lam(z) >= lam(target)).mean(0), atol=4e-3)
    np.testing.assert_allclose(llr, lam(target))


def test_online_is_calibrated_and_more_powerful_on_members() -> None:
    out, inn, unseen, seen = _population(2)
    calibrated = lira_test(unseen, out_confs=out, in_confs=inn).flagged_fraction[0.05]
    assert calibrated == pytest.approx(0.05, abs=0.015)
    online = lira_test(seen, out_confs=out, in_confs=inn).flagged_fraction[0.01]
    offline = lira_test(seen, out_confs=out).flagged_fraction[0.01]
    assert online >= offline - 0.02


def test_fixed_variance_pools_sigma() -> None:
    out, _, _, _ = _population(3, n=50, k=8)
    _, std, count = fit_gaussians(out, fixed_variance=True)
    assert np.all(std == std[0])
    assert std[0] ** 2 == pytest.approx(np.mean(out.var(axis=0, ddof=1)))
    assert np.all(count == 8)


def test_in_out_split_and_missing_values() -> None:
    rng = np.random.default_rng(4)
    confs = rng.normal(size=(8, 5))
    mask = np.zeros((8, 5), dtype=bool)
    mask[::2] = True
    inn, out = split_in_out(confs, mask)
    assert np.isnan(inn[1::2]).all() and np.isnan(out[::2]).all()
    mean, _, count = fit_gaussians(out)
    np.testing.assert_allclose(mean, confs[1::2].mean(0))
    assert np.all(count == 4)
    with pytest.raises(InputError, match="at least 2 reference values"):
        fit_gaussians(np.where(np.arange(8)[:, None] < 7, np.nan, confs))


def test_report_compares_with_original_and_retrained() -> None:
    out, _, unseen, seen = _population(5, n=2000)
    report = per_example_lira(
        unlearned_confs=seen, out_confs=out, original_confs=seen, retrained_confs=unseen
    )
    assert report.retrained is not None and report.original is not None
    assert report.excess_over_retrained is not None
    assert report.excess_over_retrained[0.01] == pytest.approx(
        report.target.flagged_fraction[0.01] - report.retrained.flagged_fraction[0.01]
    )
    assert report.excess_over_retrained[0.01] > 0.2
    assert LiraReport.model_validate_json(report.model_dump_json()) == report


def test_two_sided_offline_lira_flags_both_tails() -> None:
    import numpy as np

    from deletion_sdk.verification.lira import lira_test

    rng = np.random.default_rng(0)
    out = rng.normal(0.0, 1.0, size=(16, 200))
    over, under, unseen = np.full(200, 4.0), np.full(200, -4.0), rng.normal(0.0, 1.0, size=200)
    one = lira_test(under, out_confs=out, fprs=(0.05,))
    assert one.flagged_fraction[0.05] == 0.0  # one-sided LiRA is blind to over-forgetting
    for target in (over, under):
        assert lira_test(target, out_confs=out, fprs=(0.05,), two_sided=True).flagged_fraction[0.05] > 0.95
    calibrated = lira_test(unseen, out_confs=out, fprs=(0.05,), two_sided=True).flagged_fraction[0.05]
    assert calibrated < 0.15
