"""A slow, literal forgetting-quality implementation, one example and one rule family at a time.

Written from the rule list in ``shared/references/forgetting-quality-details.md`` with plain comparisons
(no sorting, no searchsorted, no ε table), so the vectorised implementation can be checked against it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

DELTA = 1e-5


def _rule_epsilons(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    """ε per rule (float32 rates); NaN marks a discarded rule."""
    out = np.zeros(fpr.shape, dtype=np.float32)
    both = (fpr == 0) & (fnr == 0)
    one = ((fpr == 0) | (fnr == 0)) & ~both
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are discarded rules, marked below
        e1 = np.log(1 - delta - fpr) - np.log(fnr)
        e2 = np.log(1 - delta - fnr) - np.log(fpr)
        e = np.clip(np.nanmax(np.stack([e1, e2]), axis=0), 0, None)
    out[:] = e
    out[one] = np.nan
    out[both] = np.inf
    return out


def example_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float = DELTA) -> float:
    """ε of one example; ``pos`` is the side with the larger median, both ``[n_models]`` float64."""
    n = pos.shape[0]
    pos_range = pos.max() - pos.min()
    neg_range = neg.max() - neg.min()
    big, small = (pos_range, neg_range) if pos_range > neg_range else (neg_range, pos_range)
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.float64(small) / np.float64(big) < 0.01:
            return 50.0
    rule_eps = []
    # single thresholds, float32 as torch.linspace makes them
    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    m = math.ceil((hi - lo) * 100)
    if m > 0:
        t = torch.linspace(float(lo), float(hi), m, dtype=torch.float32).double().numpy()
        fpr = (neg[:, None] >= t[None, :]).astype(np.float32).sum(0) / np.float32(n)
        fnr = (pos[:, None] < t[None, :]).astype(np.float32).sum(0) / np.float32(n)
        rule_eps.append(_rule_epsilons(fpr, fnr, delta))
    # double thresholds around the narrower side
    if pos_range >= neg_range:
        narrow, wide, width = neg, pos, neg_range
    else:
        narrow, wide, width = pos, neg, pos_range
    r_lo = narrow.min() + width - 2.0
    r_hi = narrow.max() + 2.0
    rights = np.linspace(r_lo, r_hi, math.ceil((r_hi - r_lo) * 100))
    for r in rights:
        lefts = np.linspace(r - width - 2.0, r - width + 2.0, 400)
        tp = ((narrow[:, None] >= lefts[None, :]) & (narrow[:, None] <= r)).astype(np.float32).sum(0)
        fp = ((wide[:, None] >= lefts[None, :]) & (wide[:, None] <= r)).astype(np.float32).sum(0)
        fpr = fp / np.float32(n)
        fnr = (np.float32(n) - tp) / np.float32(n)
        rule_eps.append(_rule_epsilons(fpr, fnr, delta))
    allr = np.concatenate(rule_eps)
    kept = allr[~np.isnan(allr)]
    if kept.size == 0:
        return 0.0
    return float(np.clip(kept.max(), 0, 50))


def reference_forgetting_quality(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[float, np.ndarray]:
    """(F, per-example ε) by the literal rules."""
    n_models, n_examples = unlearned.shape
    eps = np.zeros(n_examples)
    for i in range(n_examples):
        u, r = unlearned[:, i], retrained[:, i]
        pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
        eps[i] = example_epsilon(pos, neg)
    max_eps = math.ceil(math.log(n_models - 1))
    score = 0.0
    for e in eps:
        start, points = 0.0, 1.0
        while start + 0.5 <= max_eps:
            if e < start + 0.5:
                score += points
                break
            start += 0.5
            points /= 2
    return score / n_examples, eps
