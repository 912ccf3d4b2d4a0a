"""A figure with its confidence interval and sample size, and the intervals the verification code uses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from deletion_sdk.verification._arrays import FrozenModel, as_float_array, check_fraction

__all__ = ["Estimate", "mean_estimate", "proportion_estimate"]


class Estimate(FrozenModel):
    """A point estimate with a two-sided interval.

    Attributes:
        value: the estimate (NaN when ``n == 0``).
        ci_low: lower end of the interval.
        ci_high: upper end of the interval.
        n: sample size behind it.
        confidence_level: coverage of the interval.
        method: how the interval was obtained (``wilson``, ``normal``, ``bootstrap``, ``exact``).
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    confidence_level: float
    method: str


def proportion_estimate(successes: int, n: int, *, confidence_level: float = 0.95) -> Estimate:
    """A proportion ``successes / n`` with its Wilson score interval."""
    level = check_fraction(confidence_level, name="confidence_level")
    if n == 0:
        nan = float("nan")
        return Estimate(value=nan, ci_low=nan, ci_high=nan, n=0, confidence_level=level, method="wilson")
    p = successes / n
    z = float(stats.norm.ppf(0.5 + level / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(
        value=p,
        ci_low=max(0.0, centre - half),
        ci_high=min(1.0, centre + half),
        n=n,
        confidence_level=level,
        method="wilson",
    )


def mean_estimate(values: Any, *, confidence_level: float = 0.95) -> Estimate:
    """The mean of ``values: [n]`` with a normal-approximation interval (``t`` quantile)."""
    level = check_fraction(confidence_level, name="confidence_level")
    x = as_float_array(values, name="values", ndim=1)
    n = int(x.size)
    if n == 0:
        nan = float("nan")
        return Estimate(value=nan, ci_low=nan, ci_high=nan, n=0, confidence_level=level, method="normal")
    m = float(x.mean())
    if n == 1:
        return Estimate(value=m, ci_low=m, ci_high=m, n=1, confidence_level=level, method="normal")
    half = float(stats.t.ppf(0.5 + level / 2, df=n - 1)) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return Estimate(value=m, ci_low=m - half, ci_high=m + half, n=n, confidence_level=level, method="normal")
