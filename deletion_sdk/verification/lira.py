"""Per-example likelihood-ratio membership tests: LiRA and U-LiRA (verification tier ``per_example``).

LiRA (Carlini et al., "Membership Inference Attacks From First Principles", S&P 2022) models, for each
example, the logit-scaled confidence of reference models that did NOT train on it (OUT) — and, online, of
models that did (IN) — as Gaussians, and asks how likely the target model's confidence is under each.

* **Offline** (OUT only): the score is the one-sided p-value ``P[Z ≥ c]`` with ``Z ~ N(μ_out, σ_out²)`` and
  ``c`` the target's confidence. Small means "more confident than a model that never saw the example would
  be". **Two-sided** (``two_sided=True``, what the batch job uses): ``2·min(P[Z ≥ c], P[Z ≤ c])`` — an
  example the unlearned model is far *less* confident on than a model that never saw it (over-forgetting,
  or a model that recognises the person in order to hide them) is flagged like an over-confident one.
* **Online** (IN and OUT): the score is the p-value of the likelihood ratio ``Λ(c) = log N(c; μ_in, σ_in²) −
  log N(c; μ_out, σ_out²)`` under OUT: ``P[Λ(Z) ≥ Λ(c)]``, computed exactly (the region is one or two
  half-lines or an interval since Λ is quadratic in ``c``).
* **Fixed variance**: one σ per side pooled over all examples (useful with few reference models).
* **U-LiRA** (Hayes et al., "Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of
  Privacy", 2024) is the same test with the IN distribution taken from reference models that trained on the
  example and then *unlearned* it, so it asks whether the target looks like "unlearned" or like "never seen".
  Pass those confidences as ``in_confs``.

**"Flagged at 1% FPR"**: an example is flagged when its score (p-value) is at most 0.01, i.e. the threshold
is set so that, under the fitted OUT Gaussian, 1% of genuinely unseen examples would be flagged. For a model
that truly never saw the forget set the flagged fraction is therefore about 1% — more when the Gaussian fit
from few reference models is poor, which is why the same fraction is computed for a retrained model (the
calibrator) and the policy looks at the excess over it; the untouched original model shows how strong the
signal was before unlearning.

Missing entries (a reference model that was IN for an example has no OUT value for it) are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats

from deletion_sdk.errors import InputError
from deletion_sdk.verification._arrays import FloatArray, FrozenModel, as_float_array, check_fraction

__all__ = [
    "DEFAULT_LIRA_FPRS",
    "LiraReport",
    "LiraResult",
    "fit_gaussians",
    "lira_scores",
    "lira_test",
    "per_example_lira",
    "split_in_out",
]

DEFAULT_LIRA_FPRS: tuple[float, ...] = (0.01, 0.05)
_MIN_STD = 1e-6


class LiraResult(FrozenModel):
    """LiRA on one target model.

    Attributes:
        mode: ``"offline"`` (OUT only) or ``"online"`` (IN and OUT).
        fixed_variance: whether one pooled σ per side was used.
        scores: ``[n]`` p-value that the target's confidence came from the OUT distribution (small: flagged).
        log_likelihood_ratio: ``[n]`` ``log N(c; IN) − log N(c; OUT)`` (online only).
        flagged_fraction: {FPR: fraction of examples with score <= FPR}.
        flagged_fraction_ci: {FPR: Clopper–Pearson interval of that fraction}.
        n_examples: examples tested.
        n_out_min: fewest OUT reference values behind any example's fit.
        n_in_min: fewest IN reference values (online only).
        confidence_level: coverage of the intervals.
    """

    mode: Literal["offline", "online"]
    fixed_variance: bool
    scores: FloatArray
    log_likelihood_ratio: FloatArray | None
    flagged_fraction: dict[float, float]
    flagged_fraction_ci: dict[float, tuple[float, float]]
    n_examples: int
    n_out_min: int
    n_in_min: int | None
    confidence_level: float


class LiraReport(FrozenModel):
    """LiRA on the unlearned model beside its calibrator (a retrained model) and baseline (the original).

    Attributes:
        target: the model under test (unlearned).
        original: the untouched original model, if given (should be flagged often).
        retrained: a model retrained without the forget set, if given (flagged about at the nominal FPR).
        excess_over_retrained: {FPR: target's flagged fraction − retrained's} (None without a retrained
            model).
    """

    target: LiraResult
    original: LiraResult | None
    retrained: LiraResult | None
    excess_over_retrained: dict[float, float] | None


def split_in_out(confs: Any, in_mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split reference confidences ``[K, n]`` by ``in_mask [K, n]`` into (IN, OUT) arrays with NaN gaps."""
    c = as_float_array(confs, name="confs", ndim=2)
    mask = np.asarray(in_mask.detach().cpu().numpy() if hasattr(in_mask, "detach") else in_mask, dtype=bool)
    if mask.shape != c.shape:
        raise InputError(f"The 'in_mask' parameter must be shaped {c.shape}. Got {mask.shape} instead.")
    return np.where(mask, c, np.nan), np.where(mask, np.nan, c)


def fit_gaussians(confs: Any, *, name: str = "confs", fixed_variance: bool = False) -> tuple[np.ndarray, ...]:
    """Per-example Gaussian fits of reference confidences ``[K, n]`` (NaN = missing).

    Returns:
        (mean ``[n]``, std ``[n]``, count ``[n]``). The std is the unbiased (ddof=1) estimate, or with
        ``fixed_variance`` the pooled one ``sqrt(Σ (k_i − 1) s_i² / Σ (k_i − 1))`` for every example; it is
        floored at 1e-6.

    Raises:
        InputError: an example with fewer than 2 reference values.
    """
    c = as_float_array(confs, name=name, ndim=2, allow_nan=True)
    count = (~np.isnan(c)).sum(axis=0)
    if c.shape[1] and count.min() < 2:
        raise InputError(
            f"The '{name}' parameter must hold at least 2 reference values per example. "
            f"Got {int(count.min())} for example {int(count.argmin())}."
        )
    mean = np.nanmean(c, axis=0)
    var = np.nansum((c - mean) ** 2, axis=0) / (count - 1)
    if fixed_variance:
        var = np.full_like(var, ((count - 1) * var).sum() / (count - 1).sum())
    return mean, np.maximum(np.sqrt(var), _MIN_STD), count


def lira_scores(
    target_confs: Any,
    *,
    out_confs: Any,
    in_confs: Any | None = None,
    fixed_variance: bool = False,
    two_sided: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-example LiRA p-values (and, online, log-likelihood ratios).

    Args:
        target_confs: ``[n]`` logit-scaled confidences of the model under test.
        out_confs: ``[K, n]`` confidences of reference models that never trained on each example (NaN = none).
        in_confs: optional ``[K', n]`` confidences of models that trained on it (for U-LiRA: trained and then
            unlearned it). Given: online test.
        fixed_variance: pool σ over examples.
        two_sided: offline only: flag confidences in either tail of the OUT Gaussian.

    Returns:
        (p-values ``[n]``, log-likelihood ratios ``[n]`` or None offline).
    """
    c = as_float_array(target_confs, name="target_confs", ndim=1)
    mu_o, sd_o, _ = fit_gaussians(out_confs, name="out_confs", fixed_variance=fixed_variance)
    if mu_o.shape != c.shape:
        raise InputError(f"The 'out_confs' parameter must have {c.shape[0]} columns. Got {mu_o.shape[0]}.")
    if in_confs is None:
        upper = stats.norm.sf(c, loc=mu_o, scale=sd_o)
        if two_sided:
            return np.clip(2 * np.minimum(upper, stats.norm.cdf(c, loc=mu_o, scale=sd_o)), 0.0, 1.0), None
        return upper, None
    mu_i, sd_i, _ = fit_gaussians(in_confs, name="in_confs", fixed_variance=fixed_variance)
    if mu_i.shape != c.shape:
        raise InputError(f"The 'in_confs' parameter must have {c.shape[0]} columns. Got {mu_i.shape[0]}.")
    llr = stats.norm.logpdf(c, mu_i, sd_i) - stats.norm.logpdf(c, mu_o, sd_o)
    # Λ(x) − Λ(c) = (x − c)(A(x + c) + B) with A, B the quadratic and linear coefficients of Λ.
    a = 0.5 / sd_o**2 - 0.5 / sd_i**2
    b = mu_i / sd_i**2 - mu_o / sd_o**2
    with np.errstate(divide="ignore", invalid="ignore"):
        other = np.where(a != 0, -c - b / np.where(a != 0, a, 1.0), np.nan)
    lo, hi = np.fmin(c, other), np.fmax(c, other)

    def cdf(x: np.ndarray) -> np.ndarray:
        return stats.norm.cdf(x, mu_o, sd_o)  # type: ignore[no-any-return]

    linear = np.where(b > 0, stats.norm.sf(c, mu_o, sd_o), np.where(b < 0, cdf(c), 1.0))
    outside = cdf(lo) + stats.norm.sf(hi, mu_o, sd_o)
    inside = cdf(hi) - cdf(lo)
    p = np.where(a == 0, linear, np.where(a > 0, outside, inside))
    return np.clip(p, 0.0, 1.0), llr


def _binomial_ci(k: int, n: int, level: float) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def lira_test(
    target_confs: Any,
    *,
    out_confs: Any,
    in_confs: Any | None = None,
    fixed_variance: bool = False,
    fprs: Sequence[float] = DEFAULT_LIRA_FPRS,
    confidence_level: float = 0.95,
    two_sided: bool = False,
) -> LiraResult:
    """LiRA on one model: per-example scores and the fraction flagged at each per-example FPR.

    Args:
        target_confs: ``[n]`` confidences of the model under test on the forget examples.
        out_confs: ``[K, n]`` OUT reference confidences (NaN = missing).
        in_confs: optional ``[K', n]`` IN (or unlearned, for U-LiRA) reference confidences: online test.
        fixed_variance: pool σ over examples.
        fprs: per-example false-positive rates in (0, 1) at which to count flagged examples.
        confidence_level: coverage of the Clopper–Pearson intervals.
        two_sided: offline only: flag confidences in either tail (see :func:`lira_scores`).
    """
    level = check_fraction(confidence_level, name="confidence_level")
    targets = tuple(check_fraction(f, name="fprs") for f in fprs)
    p, llr = lira_scores(
        target_confs,
        out_confs=out_confs,
        in_confs=in_confs,
        fixed_variance=fixed_variance,
        two_sided=two_sided,
    )
    n = int(p.size)
    flagged = {f: int((p <= f).sum()) for f in targets}
    n_out = (~np.isnan(as_float_array(out_confs, name="out_confs", ndim=2, allow_nan=True))).sum(axis=0)
    n_in = (
        None
        if in_confs is None
        else int((~np.isnan(as_float_array(in_confs, name="in_confs", ndim=2, allow_nan=True))).sum(0).min())
    )
    return LiraResult(
        mode="offline" if in_confs is None else "online",
        fixed_variance=fixed_variance,
        scores=p,
        log_likelihood_ratio=llr,
        flagged_fraction={f: (flagged[f] / n if n else float("nan")) for f in targets},
        flagged_fraction_ci={f: _binomial_ci(flagged[f], n, level) for f in targets},
        n_examples=n,
        n_out_min=int(n_out.min()) if n_out.size else 0,
        n_in_min=n_in,
        confidence_level=level,
    )


def per_example_lira(
    *,
    unlearned_confs: Any,
    out_confs: Any,
    in_confs: Any | None = None,
    original_confs: Any | None = None,
    retrained_confs: Any | None = None,
    fixed_variance: bool = False,
    fprs: Sequence[float] = DEFAULT_LIRA_FPRS,
    confidence_level: float = 0.95,
    two_sided: bool = False,
) -> LiraReport:
    """LiRA on the unlearned model, the original (baseline) and a retrained model (calibrator).

    Args:
        unlearned_confs: ``[n]`` confidences of the unlearned model on the forget examples.
        out_confs: ``[K, n]`` OUT reference confidences (NaN = missing).
        in_confs: optional ``[K', n]`` IN / unlearned reference confidences (online, U-LiRA).
        original_confs: optional ``[n]`` confidences of the original model.
        retrained_confs: optional ``[n]`` confidences of a model retrained without the forget set.
        fixed_variance, fprs, confidence_level, two_sided: as in :func:`lira_test`.
    """
    kwargs: dict[str, Any] = {
        "out_confs": out_confs,
        "in_confs": in_confs,
        "fixed_variance": fixed_variance,
        "fprs": fprs,
        "confidence_level": confidence_level,
        "two_sided": two_sided,
    }
    target = lira_test(unlearned_confs, **kwargs)
    original = None if original_confs is None else lira_test(original_confs, **kwargs)
    retrained = None if retrained_confs is None else lira_test(retrained_confs, **kwargs)
    excess = (
        None
        if retrained is None
        else {f: target.flagged_fraction[f] - retrained.flagged_fraction[f] for f in target.flagged_fraction}
    )
    return LiraReport(target=target, original=original, retrained=retrained, excess_over_retrained=excess)
