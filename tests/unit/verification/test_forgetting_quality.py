"""The challenge's forgetting-quality metric: rules, aggregation, properties, and the literal reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deletion_sdk.errors import InputError
from deletion_sdk.verification import (
    ForgettingQuality,
    bin_scores,
    final_score,
    forgetting_quality,
    oracle_forgetting_quality,
)

from ._fq_reference import reference_forgetting_quality

DELTA = 1e-5
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REFERENCE = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fq(u: np.ndarray, r: np.ndarray) -> ForgettingQuality:
    return forgetting_quality(u, r, device="cpu")


# --- number for number against the literal reference --------------------------------------------------


@pytest.mark.parametrize(
    ("n_models", "n_examples", "shift", "seed"),
    [(8, 4, 0.0, 0), (16, 3, 0.7, 1), (9, 3, 0.0, 2), (12, 3, 3.0, 3), (5, 3, -1.5, 4), (200, 1, 0.2, 5)],
)
def test_matches_literal_reference_on_gaussians(
    n_models: int, n_examples: int, shift: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n_models, n_examples)) * rng.uniform(0.3, 3)
    r = rng.normal(size=(n_models, n_examples)) + shift
    got = fq(u, r)
    score, eps = reference_forgetting_quality(u, r)
    np.testing.assert_array_equal(got.epsilons, eps)
    assert got.score == pytest.approx(score, abs=1e-12)


@REFERENCE
@given(
    data=hnp.arrays(
        np.float64,
        st.tuples(st.integers(3, 7), st.integers(1, 2)).map(lambda s: (2, *s)),
        elements=st.integers(-3, 3).map(float) | st.floats(-4, 4, allow_nan=False, width=32),
    )
)
def test_matches_literal_reference_with_ties_and_grid_values(data: np.ndarray) -> None:
    """Integer-valued confidences sit exactly on thresholds: comparisons must agree to the last bit."""
    u, r = data[0], data[1]
    got = fq(u, r)
    score, eps = reference_forgetting_quality(u, r)
    np.testing.assert_array_equal(got.epsilons, eps)
    assert got.score == pytest.approx(score, abs=1e-12)


# --- constructed distributions -------------------------------------------------------------------------


def test_same_gaussian_scores_like_the_organisers_note() -> None:
    """Two samples of one Gaussian: F ≈ 0.17-0.21 (32 models x 40 examples), far below 1."""
    rng = np.random.default_rng(2)
    result = fq(rng.normal(size=(32, 40)), rng.normal(size=(32, 40)))
    assert 0.17 <= result.score <= 0.21
    g = np.random.default_rng(100)  # another seed, another N, more examples
    assert 0.16 <= fq(g.normal(size=(16, 120)), g.normal(size=(16, 120))).score <= 0.21


def test_identical_distributions_score_clearly_above_shifted_ones() -> None:
    rng = np.random.default_rng(7)
    same = fq(rng.normal(size=(32, 40)), rng.normal(size=(32, 40))).score
    shifted = fq(rng.normal(size=(32, 40)), rng.normal(size=(32, 40)) + 1.5).score
    far = fq(rng.normal(size=(32, 40)), rng.normal(size=(32, 40)) + 10.0).score
    assert same > shifted + 0.08
    assert shifted >= far
    assert far == 0.0


def test_disjoint_samples_are_perfectly_separated_and_score_zero() -> None:
    rng = np.random.default_rng(3)
    u = rng.uniform(0, 1, size=(16, 10))
    r = rng.uniform(2, 3, size=(16, 10))
    result = fq(u, r)
    assert result.score == 0.0
    assert np.all(result.epsilons == 50.0)
    assert result.n_separated == 10
    assert result.n_peaky == 0


def test_identical_samples_score_one() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 6))
    result = fq(x, x.copy())
    assert result.score == 1.0
    assert np.all(result.epsilons == 0.0)


def test_rule_with_exactly_one_zero_rate_is_discarded() -> None:
    """pos = 5..8, neg = 0, 1, 2, 5.5: the only rules with both rates non-zero have FPR = FNR = 1/4.

    Thresholds in (5.5, 6] give FPR = 0, FNR = 1/4 and thresholds in (2, 5] give FPR = 1/4, FNR = 0;
    counted, either would make ε infinite. Discarded, ε = log((3/4 − δ) / (1/4)).
    """
    pos = np.array([5.0, 6.0, 7.0, 8.0])
    neg = np.array([0.0, 1.0, 2.0, 5.5])
    result = fq(neg[:, None], pos[:, None])  # retrained has the larger median: it is the positive side
    expected = math.log(np.float32(0.75) - DELTA) - math.log(0.25)
    assert result.epsilons[0] == pytest.approx(expected, rel=1e-6)
    assert result.n_separated == 0
    # ceil(ln 3) = 2 -> bins [0, .5), [.5, 1), [1, 1.5), [1.5, 2): ε ≈ 1.0986 scores 0.25
    assert result.bin_scores[0] == 0.25


def test_peaky_distribution_gets_the_cap() -> None:
    rng = np.random.default_rng(5)
    wide = rng.normal(0, 1, size=(12, 3))
    peaky = 0.2 + rng.uniform(0, 0.001, size=(12, 3))  # range under 1% of the other side's
    result = fq(peaky, wide)
    assert result.n_peaky == 3
    assert np.all(result.epsilons == 50.0)
    assert result.score == 0.0
    constant = np.full((12, 3), 0.2)  # one side constant: ratio 0 -> cap as well
    assert fq(constant, wide).n_peaky == 3


def test_both_sides_constant() -> None:
    same = np.full((6, 2), 1.25)
    result = fq(same, same.copy())  # 0/0 is not peaky; every rule predicts all or nothing -> discarded
    assert result.n_peaky == 0
    assert result.n_without_rule == 2
    assert result.score == 1.0
    apart = fq(np.full((6, 1), 1.0), np.full((6, 1), 2.0))  # a threshold in between separates them
    assert apart.n_separated == 1
    assert apart.epsilons[0] == 50.0


def test_binning_follows_log_n_minus_one() -> None:
    # n_models = 512: ceil(ln 511) = 7 -> 14 bins of 0.5
    eps = np.array([0.0, 0.49, 0.5, 1.0, 6.49, 6.5, 6.99, 7.0, 50.0])
    pts = bin_scores(eps, n_models=512)
    np.testing.assert_array_equal(pts, [1.0, 1.0, 0.5, 0.25, 2.0**-12, 2.0**-13, 2.0**-13, 0.0, 0.0])
    # n_models = 8: ceil(ln 7) = 2 -> 4 bins
    np.testing.assert_array_equal(bin_scores(np.array([1.99, 2.0]), n_models=8), [0.125, 0.0])


def test_final_score_and_validation() -> None:
    assert final_score(0.5, 0.9, 1.0, 0.8, 0.8) == pytest.approx(0.45)
    rng = np.random.default_rng(0)
    result = fq(rng.normal(size=(8, 5)), rng.normal(size=(8, 5)))
    assert final_score(result, 1.0, 1.0, 1.0, 1.0) == result.score
    with pytest.raises(InputError, match="ra_r"):
        final_score(0.5, 0.9, 0.0, 0.8, 0.8)
    with pytest.raises(InputError, match="ta_u"):
        final_score(0.5, 0.9, 1.0, 1.8, 0.8)


def test_input_validation_names_the_parameter() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="same shape"):
        fq(rng.normal(size=(8, 5)), rng.normal(size=(8, 4)))
    with pytest.raises(InputError, match="at least 3 models"):
        fq(rng.normal(size=(2, 5)), rng.normal(size=(2, 5)))
    with pytest.raises(InputError, match="finite"):
        fq(np.full((4, 2), np.nan), np.zeros((4, 2)))
    with pytest.raises(InputError, match="delta"):
        forgetting_quality(np.zeros((4, 2)), np.ones((4, 2)), delta=0.0, device="cpu")


def test_accepts_torch_and_round_trips_through_json() -> None:
    g = torch.Generator().manual_seed(0)
    u, r = torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)
    result = forgetting_quality(u, r, device="cpu")
    assert result.epsilons.shape == (6,)
    assert not result.epsilons.flags.writeable
    again = ForgettingQuality.model_validate_json(result.model_dump_json())
    assert again == result
    np.testing.assert_array_equal(fq(u.numpy(), r.numpy()).epsilons, result.epsilons)


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(9)
    u, r = rng.normal(size=(10, 7)), rng.normal(size=(10, 7)) + 0.3
    a = forgetting_quality(u, r, device="cpu", chunk_size=1)
    b = forgetting_quality(u, r, device="cpu", chunk_size=64)
    np.testing.assert_array_equal(a.epsilons, b.epsilons)


def test_oracle_splits_half_against_half() -> None:
    rng = np.random.default_rng(11)
    retrained = rng.normal(size=(16, 30))
    oracle = oracle_forgetting_quality(retrained, seed=1, device="cpu")
    assert oracle.n_models == 8
    assert 0.1 < oracle.score < 0.35
    other = rng.normal(size=(16, 30))
    assert oracle_forgetting_quality(retrained, other, device="cpu").n_models == 16
    with pytest.raises(InputError, match="at least 6"):
        oracle_forgetting_quality(retrained[:5], device="cpu")


@pytest.mark.gpu
def test_cuda_gives_the_cpu_result() -> None:
    rng = np.random.default_rng(12)
    u, r = rng.normal(size=(64, 40)), rng.normal(size=(64, 40)) + 0.2
    np.testing.assert_array_equal(
        forgetting_quality(u, r, device="cpu").epsilons, forgetting_quality(u, r, device="cuda").epsilons
    )


# --- properties --------------------------------------------------------------------------------------------

SMALL = hnp.arrays(
    np.float64,
    st.tuples(st.integers(3, 9), st.integers(1, 2)).map(lambda s: (2, *s)),
    elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False),
)


@FAST
@given(data=SMALL)
def test_epsilons_and_score_are_in_range(data: np.ndarray) -> None:
    result = fq(data[0], data[1])
    assert np.all((result.epsilons >= 0) & (result.epsilons <= 50))
    assert 0.0 <= result.score <= 1.0
    np.testing.assert_array_equal(result.bin_scores, bin_scores(result.epsilons, n_models=result.n_models))
    assert result.score == pytest.approx(result.bin_scores.mean())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=SMALL, seed=st.integers(0, 2**16))
def test_model_order_does_not_matter_and_examples_permute(data: np.ndarray, seed: int) -> None:
    u, r = data[0], data[1]
    rng = np.random.default_rng(seed)
    rows_u, rows_r = rng.permutation(u.shape[0]), rng.permutation(u.shape[0])
    cols = rng.permutation(u.shape[1])
    base = fq(u, r)
    np.testing.assert_array_equal(fq(u[rows_u], r[rows_r]).epsilons, base.epsilons)
    np.testing.assert_array_equal(fq(u[:, cols], r[:, cols]).epsilons, base.epsilons[cols])


@FAST
@given(data=SMALL)
def test_swapping_sides_changes_nothing_when_medians_differ(data: np.ndarray) -> None:
    """The positive side is the larger median whichever argument it came from; only a tie breaks symmetry."""
    u, r = data[0], data[1]
    assume(np.all(np.median(u, axis=0) != np.median(r, axis=0)))
    np.testing.assert_array_equal(fq(u, r).epsilons, fq(r, u).epsilons)


@FAST
@given(data=SMALL)
def test_identical_samples_always_score_one(data: np.ndarray) -> None:
    result = fq(data[0], data[0].copy())
    assert result.score == 1.0


@FAST
@given(data=SMALL, gap=st.floats(0.06, 100))
def test_any_gap_wider_than_the_threshold_grid_scores_zero(data: np.ndarray, gap: float) -> None:
    """Retrained values all above the unlearned ones by more than the 0.01 grid spacing: every ε is 50."""
    u = data[0]
    r = data[1] - data[1].min(axis=0) + u.max(axis=0) + gap
    result = fq(u, r)
    assert result.score == 0.0
    assert np.all(result.epsilons == 50.0)
