"""Population membership-inference attacks on one model (verification tier ``population``).

Orientation convention: every attack here takes *member* and *non-member* signals (for verification: forget
and holdout) and a flag ``higher_is_member``. A threshold attack predicts "member" when the signal is on the
member side of a threshold:

* loss: members have LOW loss -> ``higher_is_member=False`` (or pass ``-loss``);
* logit-scaled confidence: members have HIGH confidence -> ``higher_is_member=True`` (the default);
* entropy: members have LOW entropy -> ``higher_is_member=False``.

An AUC of 0.5 means the attack cannot tell the two sets apart; above 0.5, the model treats members
differently (it remembers them); below 0.5, it treats them as *less* familiar than unseen data (a sign of
over-unlearning, itself detectable).

Attacks:

* :func:`population_attack`: threshold attack over all thresholds: ROC AUC, TPR at fixed FPRs (0.1% and 1% by
  default: the largest TPR among thresholds whose FPR is at most the target), balanced accuracy at the best
  threshold (``(1 + max(TPR − FPR)) / 2``, an in-sample optimum, so biased upwards for small sets), each
  with a stratified bootstrap percentile CI computed for all resamples at once (vectorised ranks, no
  Python loop over resamples).
* :func:`logistic_regression_attack`: the NeurIPS 2023 starting kit's ``simple_mia``: logistic regression on
  the losses, class-balanced by subsampling the larger set, scored by 10-split stratified shuffle
  cross-validation (accuracy).
* :func:`two_sample_tests`: two-sided Kolmogorov–Smirnov and Mann–Whitney U tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn import linear_model, model_selection

from deletion_sdk.errors import InputError
from deletion_sdk.verification._arrays import FloatArray, FrozenModel, as_float_array, check_fraction

__all__ = [
    "DEFAULT_FPRS",
    "AttackResult",
    "CrossValidatedAttack",
    "RocCurve",
    "TwoSampleTests",
    "logistic_regression_attack",
    "population_attack",
    "roc_curve",
    "two_sample_tests",
]

DEFAULT_FPRS: tuple[float, ...] = (0.001, 0.01)
_ROWS_PER_BATCH_ELEMENTS = 4_000_000  # bootstrap rows x examples evaluated at once


class AttackResult(FrozenModel):
    """A threshold attack's figures with stratified bootstrap CIs.

    Attributes:
        auc: ROC AUC (ties count one half).
        auc_ci: (low, high) percentile bootstrap interval of the AUC.
        tpr_at_fpr: {target FPR: largest TPR with FPR <= target}.
        tpr_at_fpr_ci: {target FPR: (low, high)}.
        balanced_accuracy: best-threshold balanced accuracy, ``(1 + max(TPR − FPR)) / 2``.
        balanced_accuracy_ci: (low, high).
        n_member: member examples (e.g. forget set size).
        n_nonmember: non-member examples (e.g. holdout set size).
        higher_is_member: the orientation the signals were read with.
        n_bootstrap: bootstrap resamples behind the CIs (0: CIs are the point estimate).
        confidence_level: coverage of the CIs.
    """

    auc: float
    auc_ci: tuple[float, float]
    tpr_at_fpr: dict[float, float]
    tpr_at_fpr_ci: dict[float, tuple[float, float]]
    balanced_accuracy: float
    balanced_accuracy_ci: tuple[float, float]
    n_member: int
    n_nonmember: int
    higher_is_member: bool
    n_bootstrap: int
    confidence_level: float


class RocCurve(FrozenModel):
    """ROC curve points, downsampled for plotting (``fpr`` and ``tpr`` are ``[k]``, from (0, 0) to (1, 1))."""

    fpr: FloatArray
    tpr: FloatArray
    auc: float


class CrossValidatedAttack(FrozenModel):
    """The starting kit's ``simple_mia``: logistic regression on losses, cross-validated accuracy.

    Attributes:
        accuracy: mean held-out accuracy over the splits (0.5 = chance: classes are balanced).
        accuracy_std: standard deviation over the splits.
        split_accuracies: ``[n_splits]`` accuracy of each split.
        n_per_class: examples per class after balancing.
        n_splits: cross-validation splits.
    """

    accuracy: float
    accuracy_std: float
    split_accuracies: FloatArray
    n_per_class: int
    n_splits: int


class TwoSampleTests(FrozenModel):
    """Two-sided two-sample tests of ``a`` vs ``b`` (e.g. forget vs holdout losses).

    Attributes:
        ks_statistic: Kolmogorov–Smirnov D.
        ks_pvalue: its p-value (small: the distributions differ).
        mannwhitney_u: U statistic of ``a``.
        mannwhitney_pvalue: its p-value.
        n_a: size of ``a``.
        n_b: size of ``b``.
    """

    ks_statistic: float
    ks_pvalue: float
    mannwhitney_u: float
    mannwhitney_pvalue: float
    n_a: int
    n_b: int


def _oriented(
    member_signals: Any, nonmember_signals: Any, higher_is_member: bool, *, minimum: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    m = as_float_array(member_signals, name="member_signals", ndim=1)
    nm = as_float_array(nonmember_signals, name="nonmember_signals", ndim=1)
    for name, arr in (("member_signals", m), ("nonmember_signals", nm)):
        if arr.shape[0] < minimum:
            raise InputError(
                f"The '{name}' parameter must hold at least {minimum} values. Got {arr.shape[0]}."
            )
    return (m, nm) if higher_is_member else (-m, -nm)


def _auc_rows(member: np.ndarray, nonmember: np.ndarray) -> np.ndarray:
    """AUC of each row: ``member [B, n1]`` vs ``nonmember [B, n0]`` -> ``[B]`` (Mann–Whitney via ranks)."""
    n1, n0 = member.shape[1], nonmember.shape[1]
    ranks = stats.rankdata(np.concatenate([member, nonmember], axis=1), axis=1)
    u = ranks[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)  # type: ignore[no-any-return]


def _roc_rows(
    member: np.ndarray, nonmember: np.ndarray, fprs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """TPR at each target FPR ``[B, len(fprs)]`` and best balanced accuracy ``[B]`` of each row."""
    n1, n0 = member.shape[1], nonmember.shape[1]
    scores = np.concatenate([member, nonmember], axis=1)
    is_member = np.concatenate([np.ones(n1), np.zeros(n0)])
    order = np.argsort(-scores, axis=1, kind="stable")
    s_sorted = np.take_along_axis(scores, order, axis=1)
    labels = is_member[order]
    tpr = np.cumsum(labels, axis=1) / n1
    fpr = np.cumsum(1.0 - labels, axis=1) / n0
    # a threshold can only cut between two different scores (or after the last one)
    cut = np.ones_like(s_sorted, dtype=bool)
    cut[:, :-1] = s_sorted[:, :-1] != s_sorted[:, 1:]
    youden = np.where(cut, tpr - fpr, 0.0).max(axis=1).clip(min=0.0)
    tpr_at = np.stack([np.where(cut & (fpr <= f + 1e-12), tpr, 0.0).max(axis=1) for f in fprs], axis=1)
    return tpr_at, (1.0 + youden) / 2.0


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def population_attack(
    member_signals: Any,
    nonmember_signals: Any,
    *,
    higher_is_member: bool = True,
    fprs: Sequence[float] = DEFAULT_FPRS,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> AttackResult:
    """Threshold membership attack: AUC, TPR at low FPR, balanced accuracy, with bootstrap CIs.

    Args:
        member_signals: ``[n1]`` signal of examples the model was trained on (forget set).
        nonmember_signals: ``[n0]`` signal of examples it never saw (holdout).
        higher_is_member: True when larger values suggest membership (confidence); False for loss/entropy.
        fprs: target false-positive rates in (0, 1).
        n_bootstrap: stratified resamples (members and non-members resampled separately); 0 skips the CIs.
        confidence_level: CI coverage in (0, 1).
        seed: seeds the resampling.

    Returns:
        :class:`AttackResult`.

    Raises:
        InputError: an empty or non-finite input, or a bad parameter.
    """
    m, nm = _oriented(member_signals, nonmember_signals, higher_is_member)
    level = check_fraction(confidence_level, name="confidence_level")
    targets = tuple(check_fraction(f, name="fprs") for f in fprs)
    if n_bootstrap < 0:
        raise InputError(f"The 'n_bootstrap' parameter must be an int >= 0. Got {n_bootstrap!r} instead.")
    auc = float(_auc_rows(m[None, :], nm[None, :])[0])
    tpr_at, bal = _roc_rows(m[None, :], nm[None, :], targets)

    if n_bootstrap:
        rng = np.random.default_rng(seed)
        rows = max(1, _ROWS_PER_BATCH_ELEMENTS // (m.size + nm.size))
        aucs, tprs, bals = [], [], []
        for start in range(0, n_bootstrap, rows):
            b = min(rows, n_bootstrap - start)
            mb = m[rng.integers(0, m.size, size=(b, m.size))]
            nb = nm[rng.integers(0, nm.size, size=(b, nm.size))]
            aucs.append(_auc_rows(mb, nb))
            t, ba = _roc_rows(mb, nb, targets)
            tprs.append(t)
            bals.append(ba)
        auc_b, tpr_b, bal_b = np.concatenate(aucs), np.concatenate(tprs), np.concatenate(bals)
        auc_ci, bal_ci = _interval(auc_b, level), _interval(bal_b, level)
        tpr_ci = {f: _interval(tpr_b[:, j], level) for j, f in enumerate(targets)}
    else:
        auc_ci, bal_ci = (auc, auc), (float(bal[0]), float(bal[0]))
        tpr_ci = {f: (float(tpr_at[0, j]), float(tpr_at[0, j])) for j, f in enumerate(targets)}

    return AttackResult(
        auc=auc,
        auc_ci=auc_ci,
        tpr_at_fpr={f: float(tpr_at[0, j]) for j, f in enumerate(targets)},
        tpr_at_fpr_ci=tpr_ci,
        balanced_accuracy=float(bal[0]),
        balanced_accuracy_ci=bal_ci,
        n_member=int(m.size),
        n_nonmember=int(nm.size),
        higher_is_member=higher_is_member,
        n_bootstrap=n_bootstrap,
        confidence_level=level,
    )


def roc_curve(
    member_signals: Any, nonmember_signals: Any, *, higher_is_member: bool = True, max_points: int = 101
) -> RocCurve:
    """The ROC curve of the threshold attack, downsampled to at most ``max_points`` points for plotting.

    Args:
        member_signals: ``[n1]``; nonmember_signals: ``[n0]``; higher_is_member: as in
            :func:`population_attack`.
        max_points: at most this many points (>= 2), always including (0, 0) and (1, 1).
    """
    if max_points < 2:
        raise InputError(f"The 'max_points' parameter must be an int >= 2. Got {max_points!r} instead.")
    m, nm = _oriented(member_signals, nonmember_signals, higher_is_member)
    scores = np.concatenate([m, nm])
    labels = np.concatenate([np.ones(m.size), np.zeros(nm.size)])
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], labels[order]
    cut = np.ones(s.size, dtype=bool)
    cut[:-1] = s[:-1] != s[1:]
    tpr = np.concatenate([[0.0], (np.cumsum(lab) / m.size)[cut]])
    fpr = np.concatenate([[0.0], (np.cumsum(1 - lab) / nm.size)[cut]])
    if tpr.size > max_points:
        keep = np.unique(np.round(np.linspace(0, tpr.size - 1, max_points)).astype(int))
        tpr, fpr = tpr[keep], fpr[keep]
    auc = float(_auc_rows(m[None, :], nm[None, :])[0])
    return RocCurve(fpr=fpr, tpr=tpr, auc=auc)


def logistic_regression_attack(
    member_losses: Any,
    nonmember_losses: Any,
    *,
    n_splits: int = 10,
    seed: int = 0,
) -> CrossValidatedAttack:
    """The challenge starting kit's ``simple_mia`` on per-example losses.

    The larger set is subsampled (at random, ``seed``) to the smaller one's size; a logistic regression on
    the loss predicts membership; accuracy is cross-validated over ``n_splits`` stratified shuffle splits
    (10% test, ``random_state=seed``).

    Args:
        member_losses: ``[n1]`` losses of members (forget set).
        nonmember_losses: ``[n0]`` losses of non-members (holdout / test).
        n_splits: cross-validation splits (>= 2).
        seed: seeds the subsampling and the splits.

    Raises:
        InputError: fewer than 10 examples in the smaller set (a 10% test split needs one per class), or a bad
            parameter.
    """
    m = as_float_array(member_losses, name="member_losses", ndim=1)
    nm = as_float_array(nonmember_losses, name="nonmember_losses", ndim=1)
    if n_splits < 2:
        raise InputError(f"The 'n_splits' parameter must be an int >= 2. Got {n_splits!r} instead.")
    k = min(m.size, nm.size)
    if k < 10:
        raise InputError(
            "The 'member_losses' and 'nonmember_losses' parameters must each hold at least 10 values for a "
            f"cross-validated attack. Got {m.size} and {nm.size}."
        )
    rng = np.random.default_rng(seed)
    m = m[rng.permutation(m.size)[:k]]
    nm = nm[rng.permutation(nm.size)[:k]]
    x = np.concatenate([nm, m]).reshape(-1, 1)
    y = np.concatenate([np.zeros(k, dtype=int), np.ones(k, dtype=int)])
    cv = model_selection.StratifiedShuffleSplit(n_splits=n_splits, random_state=seed)
    scores = model_selection.cross_val_score(
        linear_model.LogisticRegression(), x, y, cv=cv, scoring="accuracy"
    )
    return CrossValidatedAttack(
        accuracy=float(scores.mean()),
        accuracy_std=float(scores.std()),
        split_accuracies=scores,
        n_per_class=k,
        n_splits=n_splits,
    )


def two_sample_tests(a: Any, b: Any) -> TwoSampleTests:
    """Two-sided KS and Mann–Whitney U tests of ``a: [n_a]`` vs ``b: [n_b]``.

    Raises:
        InputError: an empty or non-finite input.
    """
    x = as_float_array(a, name="a", ndim=1)
    y = as_float_array(b, name="b", ndim=1)
    if x.size < 1 or y.size < 1:
        raise InputError(f"The 'a' and 'b' parameters must be non-empty. Got sizes {x.size} and {y.size}.")
    ks = stats.ks_2samp(x, y, alternative="two-sided")
    mw = stats.mannwhitneyu(x, y, alternative="two-sided")
    return TwoSampleTests(
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
        mannwhitney_u=float(mw.statistic),
        mannwhitney_pvalue=float(mw.pvalue),
        n_a=int(x.size),
        n_b=int(y.size),
    )
