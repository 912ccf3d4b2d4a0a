"""Population attacks: threshold attack with bootstrap CIs, simple_mia, two-sample tests."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from deletion_sdk.errors import InputError
from deletion_sdk.verification import (
    AttackResult,
    logistic_regression_attack,
    population_attack,
    roc_curve,
    two_sample_tests,
)


def _sets(shift: float, seed: int = 0, n1: int = 200, n0: int = 800) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # rounded so that ties occur, as they do with saturated losses
    return np.round(rng.normal(shift, 1, n1), 1), np.round(rng.normal(0, 1, n0), 1)


def test_threshold_attack_matches_sklearn_including_ties() -> None:
    m, nm = _sets(0.6)
    result = population_attack(m, nm, n_bootstrap=0)
    y = np.r_[np.ones(m.size), np.zeros(nm.size)]
    s = np.r_[m, nm]
    assert result.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = sk_roc_curve(y, s)
    for target, value in result.tpr_at_fpr.items():
        assert value == pytest.approx(tpr[fpr <= target].max())
    assert result.balanced_accuracy == pytest.approx((1 + (tpr - fpr).max()) / 2)
    assert (result.n_member, result.n_nonmember) == (200, 800)


def test_orientation_flag_reads_low_loss_as_membership() -> None:
    m, nm = _sets(-0.8)  # members lower, like losses
    as_loss = population_attack(m, nm, higher_is_member=False, n_bootstrap=0)
    assert as_loss.auc > 0.65
    assert population_attack(-m, -nm, n_bootstrap=0).auc == pytest.approx(as_loss.auc)
    assert population_attack(m, nm, n_bootstrap=0).auc == pytest.approx(1 - as_loss.auc)


def test_bootstrap_intervals_cover_the_truth_and_separate_signal_from_noise() -> None:
    none = population_attack(*_sets(0.0, seed=1), n_bootstrap=400, seed=3)
    some = population_attack(*_sets(0.8, seed=2), n_bootstrap=400, seed=3)
    assert none.auc_ci[0] < 0.5 < none.auc_ci[1]
    assert some.auc_ci[0] > 0.6
    for r in (none, some):
        assert r.auc_ci[0] <= r.auc <= r.auc_ci[1]
        assert r.balanced_accuracy_ci[0] <= r.balanced_accuracy <= r.balanced_accuracy_ci[1]
        for f, (lo, hi) in r.tpr_at_fpr_ci.items():
            assert 0 <= lo <= hi <= 1, f
    again = population_attack(*_sets(0.8, seed=2), n_bootstrap=400, seed=3)
    assert again == some  # seeded
    assert AttackResult.model_validate_json(some.model_dump_json()) == some


def test_roc_curve_is_downsampled_and_monotone() -> None:
    m, nm = _sets(0.5)
    curve = roc_curve(m, nm, max_points=21)
    assert curve.fpr.size <= 21
    assert (curve.fpr[0], curve.tpr[0], curve.fpr[-1], curve.tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.tpr) >= 0)


def test_simple_mia_detects_a_loss_gap_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    members = rng.exponential(0.2, 300)  # low losses
    nonmembers = rng.exponential(1.0, 100)
    strong = logistic_regression_attack(members, nonmembers)
    assert strong.n_per_class == 100
    assert strong.split_accuracies.shape == (10,)
    assert strong.accuracy > 0.7
    noise = logistic_regression_attack(rng.exponential(1.0, 300), rng.exponential(1.0, 300))
    assert noise.accuracy < 0.62
    with pytest.raises(InputError, match="at least 10"):
        logistic_regression_attack(members[:5], nonmembers)


def test_two_sample_tests() -> None:
    rng = np.random.default_rng(0)
    same = two_sample_tests(rng.normal(size=300), rng.normal(size=300))
    diff = two_sample_tests(rng.normal(0.5, 1, 300), rng.normal(size=300))
    assert same.ks_pvalue > 0.01 and same.mannwhitney_pvalue > 0.01
    assert diff.ks_pvalue < 1e-4 and diff.mannwhitney_pvalue < 1e-4
    assert (diff.n_a, diff.n_b) == (300, 300)


def test_input_checks() -> None:
    with pytest.raises(InputError, match="member_signals"):
        population_attack(np.array([]), np.array([1.0]))
    with pytest.raises(InputError, match="fprs"):
        population_attack(np.array([1.0]), np.array([0.0]), fprs=(0.0,))
    with pytest.raises(InputError, match="n_bootstrap"):
        population_attack(np.array([1.0]), np.array([0.0]), n_bootstrap=-1)
