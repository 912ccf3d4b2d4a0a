"""Forgetting quality F, exactly as the NeurIPS 2023 unlearning challenge scores it.

Inputs are two matrices ``[n_models, n_examples]``: the logit-scaled confidence
(:func:`~deletion_sdk.verification.signals.logit_scaled_confidence`) of each forget example under each of
``n_models`` unlearned models and under each of ``n_models`` retrained models. For each example (column):

1. The *positive* side is the one with the larger median (the retrained side only when its median is strictly
   larger; on a tie the unlearned side is positive).
2. Peaky rule: if the smaller of the two ranges (max − min over models) is under 1% of the larger, ε is the
   cap, 50, and no rule is evaluated.
3. Single-threshold rules: ``value ≥ t`` predicts positive, for the thresholds
   ``torch.linspace(lo, hi, ceil((hi − lo)·100))`` (float32, as the challenge's code creates them) over the
   pooled min/max.
4. Double-threshold rules: ``left ≤ value ≤ right`` predicts the narrower side (smaller range ``w``; on a tie
   the non-positive side). Right thresholds ``numpy.linspace(min_n + w − 2, max_n + 2, ceil(span·100))``;
   for each right threshold ``r``, 400 left thresholds ``numpy.linspace(r − w − 2, r − w + 2, 400)``.
5. FPR and FNR are fractions over models (float32). Both 0: ε = ∞. Exactly one 0: the rule is discarded.
   Otherwise ``ε = max(log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR)`` floored at 0, δ = 1e-5.
6. The example's ε is the largest over the surviving rules, clipped to [0, 50] (∞ becomes 50). If every rule
   is discarded (only possible when both sides are the same constant) ε is 0; the challenge's code stops with
   an assertion there.

Aggregation: bins of width 0.5 from 0 up to ``ceil(ln(n_models − 1))``; an ε in bin ``b`` scores
``2 / 2^(b+1)``, an ε at or beyond the last bin's upper edge scores 0; F is the mean over examples.

The estimate is biased low even for a perfect unlearner: two samples of the same Gaussian score only about
0.17–0.21 whatever the number of models, so always compare a method's F with the oracle's
(:func:`oracle_forgetting_quality`) at the same number of models.

Implementation: every rule's FPR and FNR come from counts (values ≤ t, values in [l, r]) looked up with
``torch.searchsorted`` in the sorted confidences, batched over a chunk of examples; ε is read from a
precomputed ``[n_models + 1, n_models + 1]`` table indexed by (false-positive count, false-negative count).
The thresholds are built with the same floating-point operations as the challenge's code, so results match it
number for number (up to the one-ulp difference of CUDA's ``mean``, which multiplies by ``1/n`` instead of
dividing by ``n``). Runs on CPU or CUDA (``device``), with identical results.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from deletion_sdk._device import resolve_device
from deletion_sdk.errors import InputError
from deletion_sdk.verification._arrays import FloatArray, FrozenModel, as_float_array, check_fraction

__all__ = [
    "DELTA",
    "EPSILON_CAP",
    "ForgettingQuality",
    "bin_scores",
    "final_score",
    "forgetting_quality",
    "oracle_forgetting_quality",
]

DELTA = 1e-5
EPSILON_CAP = 50.0
_PER_UNIT = 100
_BUFFER = 2.0
_N_LEFT = math.ceil(2 * _BUFFER * _PER_UNIT)  # 400
_PEAKY_RATIO = 0.01
_BIN_WIDTH = 0.5
_DISCARDED = -1.0  # sentinel for a discarded rule in the ε table (real ε are >= 0)


class ForgettingQuality(FrozenModel):
    """The forgetting-quality metric of one unlearner on one forget set.

    The inputs were two ``[n_models, n_examples]`` confidence matrices; the outputs are per example.

    Attributes:
        score: F, the mean bin score over the forget examples, in [0, 1].
        epsilons: ``[n_examples]`` per-example ε in [0, 50] (one per forget example, the worst case over all
            decision rules and over the models), NOT one per model.
        bin_scores: ``[n_examples]`` each example's points ``2 / 2^(bin+1)`` (or 0 beyond the last bin).
        n_models: models on each side.
        n_examples: forget examples scored.
        delta: the δ of the ε estimate.
        max_epsilon: ``ceil(ln(n_models − 1))``, the upper edge of the last scoring bin.
        n_bins: number of scoring bins of width 0.5.
        n_peaky: examples capped at 50 by the peaky-distribution rule.
        n_separated: examples for which some rule separates the two sides perfectly (ε = ∞ → 50).
        n_without_rule: examples where every rule was discarded (ε set to 0).
    """

    score: float
    epsilons: FloatArray
    bin_scores: FloatArray
    n_models: int
    n_examples: int
    delta: float
    max_epsilon: float
    n_bins: int
    n_peaky: int
    n_separated: int
    n_without_rule: int


def _scoring_bins(n_models: int) -> tuple[float, int]:
    max_epsilon = float(math.ceil(math.log(n_models - 1)))
    return max_epsilon, int(max_epsilon / _BIN_WIDTH)


def bin_scores(epsilons: Any, *, n_models: int) -> np.ndarray:
    """Points per example: ``2 / 2^(b+1)`` for ε in bin ``b = floor(ε / 0.5)``, 0 at/after the last bin.

    Args:
        epsilons: ``[n_examples]`` per-example ε (≥ 0).
        n_models: models per side; sets the last bin's edge ``ceil(ln(n_models − 1))``.

    Returns:
        float64 ``[n_examples]``.
    """
    eps = as_float_array(epsilons, name="epsilons", ndim=1)
    if n_models < 3:
        raise InputError(f"The 'n_models' parameter must be an int >= 3. Got {n_models!r} instead.")
    if (eps < 0).any():
        raise InputError("The 'epsilons' parameter must hold values >= 0.")
    _, n_bins = _scoring_bins(n_models)
    b = np.floor(eps / _BIN_WIDTH)
    return np.where(b < n_bins, np.power(0.5, np.minimum(b, 1074.0)), 0.0)  # type: ignore[no-any-return]


def _epsilon_table(n: int, delta: float) -> np.ndarray:
    """ε of a rule with ``a`` false positives and ``b`` false negatives out of ``n``: ``[n+1, n+1]`` float32.

    Discarded rules (exactly one of the rates 0, or both logs undefined) hold :data:`_DISCARDED`.
    """
    counts = np.arange(n + 1, dtype=np.float32)
    fpr = (counts / np.float32(n))[:, None]
    fnr = (counts / np.float32(n))[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = np.log(1 - delta - fpr) - np.log(fnr)
        e2 = np.log(1 - delta - fnr) - np.log(fpr)
        eps = np.clip(np.fmax(e1, e2), 0, None).astype(np.float32)
    eps[np.isnan(eps)] = _DISCARDED
    eps[(fpr == 0) ^ (fnr == 0)] = _DISCARDED
    eps[0, 0] = np.inf
    return eps


def _numpy_linspace_fixed(start: torch.Tensor, stop: torch.Tensor, num: int) -> torch.Tensor:
    """``numpy.linspace(start, stop, num)`` for every element of ``start``/``stop`` (float64 ``[...]``, same
    operations as numpy: ``k * ((stop − start) / (num − 1)) + start``, last sample set to ``stop``), num >= 2.

    Returns:
        float64 ``[..., num]``.
    """
    k = torch.arange(num, dtype=torch.float64, device=start.device)
    y = k * ((stop - start) / (num - 1)).unsqueeze(-1)
    y += start.unsqueeze(-1)
    y[..., -1] = stop
    return y


def _numpy_linspace(start: torch.Tensor, stop: torch.Tensor, num: torch.Tensor, width: int) -> torch.Tensor:
    """Rows of ``numpy.linspace(start, stop, num)`` (float64, same operations), padded to ``width`` with stop.

    Args:
        start, stop: float64 ``[B]``.
        num: int64 ``[B]`` samples per row (>= 1).
        width: length of the last axis of the result (>= max(num)).

    Returns:
        float64 ``[B, width]``.
    """
    k = torch.arange(width, dtype=torch.float64, device=start.device)
    div = (num - 1).clamp(min=1).to(torch.float64)
    step = (stop - start) / div
    y = k * step.unsqueeze(-1)
    y = y + start.unsqueeze(-1)
    ki = torch.arange(width, device=start.device)
    last = ki >= (num - 1).unsqueeze(-1)
    # numpy sets y[-1] = stop when num > 1; padding repeats stop (a duplicate rule changes no maximum).
    y = torch.where(last & (num > 1).unsqueeze(-1), stop.unsqueeze(-1), y)
    return torch.where(ki >= num.unsqueeze(-1), y.gather(-1, (num - 1).unsqueeze(-1)).expand_as(y), y)


def _single_thresholds(lo: np.ndarray, hi: np.ndarray, device: torch.device) -> torch.Tensor:
    """``torch.linspace(lo, hi, ceil((hi − lo)·100))`` per example (float32, CPU), as float64 ``[B, M]``.

    Rows are padded by repeating their last threshold; an example with no threshold gets ``+inf``, which makes
    a rule that is always discarded (no positive prediction at all).
    """
    counts = np.ceil((hi - lo) * _PER_UNIT).astype(np.int64)
    width = max(int(counts.max()), 1)
    out = torch.full((lo.shape[0], width), math.inf, dtype=torch.float64)
    for i, (a, b, m) in enumerate(zip(lo.tolist(), hi.tolist(), counts.tolist(), strict=True)):
        if m > 0:
            t = torch.linspace(a, b, m, dtype=torch.float32).to(torch.float64)
            out[i, :m] = t
            out[i, m:] = t[-1]
    return out.to(device)


def _chunk_epsilons(
    pos: np.ndarray, neg: np.ndarray, table: torch.Tensor, device: torch.device
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ε of each example of a chunk (no peaky ones). ``pos``, ``neg``: float64 ``[n_models, B]``.

    Returns:
        (ε float64 ``[B]`` before the cap, ``separated`` bool ``[B]``, ``without_rule`` bool ``[B]``).
    """
    n = pos.shape[0]
    pos_t = torch.from_numpy(np.ascontiguousarray(pos.T)).to(device)
    neg_t = torch.from_numpy(np.ascontiguousarray(neg.T)).to(device)
    pos_s = pos_t.sort(dim=1).values
    neg_s = neg_t.sort(dim=1).values

    # Single thresholds: "value >= t" predicts the side with the larger median (pos).
    lo = np.minimum(pos.min(axis=0), neg.min(axis=0))
    hi = np.maximum(pos.max(axis=0), neg.max(axis=0))
    thr = _single_thresholds(lo, hi, device)
    fn_single = torch.searchsorted(pos_s, thr)  # pos < t
    fp_single = n - torch.searchsorted(neg_s, thr)  # neg >= t
    best = table[fp_single * (n + 1) + fn_single].amax(dim=1)
    del thr, fn_single, fp_single

    # Double thresholds: "left <= value <= right" predicts the narrower side.
    pos_diff = pos_s[:, -1] - pos_s[:, 0]
    neg_diff = neg_s[:, -1] - neg_s[:, 0]
    narrow_is_neg = (pos_diff >= neg_diff).unsqueeze(1)
    narrow = torch.where(narrow_is_neg, neg_s, pos_s)
    wide = torch.where(narrow_is_neg, pos_s, neg_s)
    width = torch.where(pos_diff > neg_diff, neg_diff, pos_diff)
    r_min = narrow[:, 0] + width - _BUFFER
    r_max = narrow[:, -1] + _BUFFER
    n_right = torch.ceil((r_max - r_min) * _PER_UNIT).to(torch.int64)
    right = _numpy_linspace(r_min, r_max, n_right, int(n_right.max()))  # [B, R]
    base = right - width.unsqueeze(1)
    left = _numpy_linspace_fixed(base - _BUFFER, base + _BUFFER, _N_LEFT)  # [B, R, 400]
    b_size, r_size = right.shape
    left_flat = left.reshape(b_size, r_size * _N_LEFT)
    del left, base

    def inside(sorted_vals: torch.Tensor) -> torch.Tensor:
        le_right = torch.searchsorted(sorted_vals, right, right=True).unsqueeze(-1)
        lt_left = torch.searchsorted(sorted_vals, left_flat).view(b_size, r_size, _N_LEFT)
        return (le_right - lt_left).clamp_(min=0)  # an empty interval (left > right) holds nothing

    tp = inside(narrow)
    fp = inside(wide)
    index = fp.mul_(n + 1).add_(n - tp).view(b_size, -1)
    del tp
    best = torch.maximum(best, table[index].amax(dim=1))
    eps = best.to("cpu").numpy().astype(np.float64)
    return eps, np.isinf(eps), eps < 0


def _validate_pair(unlearned_confs: Any, retrained_confs: Any) -> tuple[np.ndarray, np.ndarray]:
    u = as_float_array(unlearned_confs, name="unlearned_confs", ndim=2)
    r = as_float_array(retrained_confs, name="retrained_confs", ndim=2)
    if u.shape != r.shape:
        raise InputError(
            "The 'unlearned_confs' and 'retrained_confs' parameters must have the same shape "
            f"[n_models, n_examples]. Got {u.shape} and {r.shape}."
        )
    if u.shape[0] < 3:
        raise InputError(
            "The 'unlearned_confs' parameter must hold at least 3 models (rows): with fewer, "
            f"ceil(ln(n_models - 1)) leaves no scoring bin. Got {u.shape[0]}."
        )
    if u.shape[1] < 1:
        raise InputError("The 'unlearned_confs' parameter must hold at least 1 example (column). Got 0.")
    return u, r


def forgetting_quality(
    unlearned_confs: Any,
    retrained_confs: Any,
    *,
    delta: float = DELTA,
    device: str | torch.device = "auto",
    chunk_size: int | None = None,
) -> ForgettingQuality:
    """The challenge's forgetting quality F of unlearned vs retrained confidences.

    Args:
        unlearned_confs: ``[n_models, n_examples]`` logit-scaled confidence of each forget example under each
            unlearned model (numpy or torch).
        retrained_confs: ``[n_models, n_examples]`` the same under models retrained without the forget set.
        delta: δ of the ε estimate, in (0, 1).
        device: where the rule counting runs (``"auto"`` picks CUDA); the result does not depend on it.
        chunk_size: examples evaluated at once (memory ~ 7 MB per example); None picks 16 on CPU, 128 on CUDA.

    Returns:
        :class:`ForgettingQuality` with ``score`` (F) and per-example ``epsilons: [n_examples]``.

    Raises:
        InputError: shapes differ, fewer than 3 models, no example, non-finite values, or a bad ``delta``.
    """
    u, r = _validate_pair(unlearned_confs, retrained_confs)
    delta = check_fraction(delta, name="delta")
    dev = resolve_device(device)
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"The 'chunk_size' parameter must be an int >= 1. Got {chunk_size!r} instead.")
    chunk = chunk_size or (128 if dev.type == "cuda" else 16)
    n_models, n_examples = u.shape

    retrain_is_positive = np.median(r, axis=0) > np.median(u, axis=0)
    pos = np.where(retrain_is_positive, r, u)
    neg = np.where(retrain_is_positive, u, r)
    pos_diff = pos.max(axis=0) - pos.min(axis=0)
    neg_diff = neg.max(axis=0) - neg.min(axis=0)
    largest = np.where(pos_diff > neg_diff, pos_diff, neg_diff)
    smallest = np.where(pos_diff > neg_diff, neg_diff, pos_diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        peaky = smallest / largest < _PEAKY_RATIO  # 0/0 is NaN: not peaky, as in the challenge's code

    eps = np.full(n_examples, EPSILON_CAP)
    separated = np.zeros(n_examples, dtype=bool)
    without_rule = np.zeros(n_examples, dtype=bool)
    todo = np.flatnonzero(~peaky)
    if todo.size:
        table = torch.from_numpy(_epsilon_table(n_models, delta).reshape(-1)).to(dev)
        for start in range(0, todo.size, chunk):
            cols = todo[start : start + chunk]
            e, sep, none = _chunk_epsilons(pos[:, cols], neg[:, cols], table, dev)
            eps[cols], separated[cols], without_rule[cols] = e, sep, none
    eps = np.clip(np.where(without_rule, 0.0, eps), 0.0, EPSILON_CAP)

    scores = bin_scores(eps, n_models=n_models)
    max_epsilon, n_bins = _scoring_bins(n_models)
    return ForgettingQuality(
        score=float(scores.mean()),
        epsilons=eps,
        bin_scores=scores,
        n_models=n_models,
        n_examples=n_examples,
        delta=delta,
        max_epsilon=max_epsilon,
        n_bins=n_bins,
        n_peaky=int(peaky.sum()),
        n_separated=int(separated.sum()),
        n_without_rule=int(without_rule.sum()),
    )


def final_score(
    forgetting: ForgettingQuality | float, ra_u: float, ra_r: float, ta_u: float, ta_r: float
) -> float:
    """The challenge's final score ``F · (RA_U / RA_R) · (TA_U / TA_R)``.

    Args:
        forgetting: F, or the :class:`ForgettingQuality` holding it.
        ra_u, ra_r: mean retain accuracy of the unlearned (U) and retrained (R) models.
        ta_u, ta_r: mean test accuracy of the unlearned and retrained models.

    Raises:
        InputError: an accuracy outside [0, 1], or a retrained accuracy of 0.
    """
    f = forgetting.score if isinstance(forgetting, ForgettingQuality) else float(forgetting)
    check_fraction(f, name="forgetting", open_interval=False)
    for name, value in (("ra_u", ra_u), ("ra_r", ra_r), ("ta_u", ta_u), ("ta_r", ta_r)):
        check_fraction(value, name=name, open_interval=False)
    if ra_r == 0 or ta_r == 0:
        raise InputError(
            f"The 'ra_r' and 'ta_r' parameters must be > 0 (they divide). Got ra_r={ra_r}, ta_r={ta_r}."
        )
    return f * (ra_u / ra_r) * (ta_u / ta_r)


def oracle_forgetting_quality(
    retrained_a: Any,
    retrained_b: Any | None = None,
    *,
    delta: float = DELTA,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> ForgettingQuality:
    """The ceiling F: retrained models scored against other retrained models.

    With ``retrained_b``, ``retrained_a`` plays the unlearned side against ``retrained_b`` (same shape).
    Without it, the rows of ``retrained_a`` are split at random (``seed``) into two halves of
    ``n_models // 2`` rows that are scored against each other; the result then has ``n_models // 2`` models,
    so compare it with a method's F at that number of models.

    Args:
        retrained_a: ``[n_models, n_examples]`` confidences under retrained models.
        retrained_b: optional ``[n_models, n_examples]`` from independently retrained models.
        delta: δ of the ε estimate.
        seed: seed of the random split (only without ``retrained_b``).
        device: where the rule counting runs.
    """
    a = as_float_array(retrained_a, name="retrained_a", ndim=2)
    if retrained_b is not None:
        return forgetting_quality(a, retrained_b, delta=delta, device=device)
    half = a.shape[0] // 2
    if half < 3:
        raise InputError(
            "The 'retrained_a' parameter must hold at least 6 models to be split half against half. "
            f"Got {a.shape[0]}."
        )
    order = np.random.default_rng(seed).permutation(a.shape[0])
    return forgetting_quality(a[order[:half]], a[order[half : 2 * half]], delta=delta, device=device)
