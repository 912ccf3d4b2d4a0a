"""Utility of a model after unlearning: accuracy per set, age error in years, and ratios to references.

Accuracies carry Wilson intervals; the MAE (years between the predicted age group's midpoint and the true age,
using :class:`~deletion_sdk.data.AgeBins`) carries a normal-approximation interval. Ratios compare the
unlearned model with the original (how much utility unlearning cost) and with a model retrained without the
forget set (the gold standard: a ratio near 1 on retain/holdout/test is the target, as in the challenge's
``RA_U / RA_R`` and ``TA_U / TA_R``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.verification._arrays import FrozenModel
from deletion_sdk.verification.estimates import Estimate, mean_estimate, proportion_estimate
from deletion_sdk.verification.signals import Signals, compute_signals

__all__ = ["ModelUtility", "UtilityReport", "evaluate_utility", "model_utility", "utility_report"]


class ModelUtility(FrozenModel):
    """Accuracy and MAE of one model on named sets (``retain``, ``holdout``, ``test``, ``forget`` …).

    Attributes:
        accuracy: {set name: accuracy with Wilson interval}.
        mae_years: {set name: MAE in years} (absent when ages or matching age bins are unknown).
    """

    accuracy: dict[str, Estimate]
    mae_years: dict[str, Estimate]


class UtilityReport(FrozenModel):
    """Utility of the unlearned model beside the original and a retrained reference.

    Attributes:
        unlearned: the model under test.
        original: the model before unlearning, if given.
        reference: a model retrained without the forget set, if given.
        accuracy_ratio_to_original: {set: unlearned accuracy / original accuracy}.
        accuracy_ratio_to_reference: {set: unlearned accuracy / reference accuracy}.
    """

    unlearned: ModelUtility
    original: ModelUtility | None
    reference: ModelUtility | None
    accuracy_ratio_to_original: dict[str, float] | None
    accuracy_ratio_to_reference: dict[str, float] | None


def model_utility(
    signals: Mapping[str, Signals], *, age_bins: AgeBins | None = None, confidence_level: float = 0.95
) -> ModelUtility:
    """Utility figures from precomputed :class:`Signals` per set.

    Args:
        signals: {set name: signals of the model on that set}.
        age_bins: age groups for the MAE; default :class:`AgeBins` (MAE omitted when its class count differs
            from the model's or the signals carry no ages).
        confidence_level: coverage of the intervals.
    """
    bins = age_bins if age_bins is not None else AgeBins()
    mids = np.asarray(bins.midpoints, dtype=np.float64)
    acc: dict[str, Estimate] = {}
    mae: dict[str, Estimate] = {}
    for name, s in signals.items():
        acc[name] = proportion_estimate(int(s.correct.sum()), s.n, confidence_level=confidence_level)
        if s.ages is not None and s.num_classes == bins.num_classes and s.n:
            mae[name] = mean_estimate(np.abs(mids[s.predicted] - s.ages), confidence_level=confidence_level)
    return ModelUtility(accuracy=acc, mae_years=mae)


def _ratios(num: ModelUtility, den: ModelUtility | None) -> dict[str, float] | None:
    if den is None:
        return None
    out: dict[str, float] = {}
    for name, a in num.accuracy.items():
        b = den.accuracy.get(name)
        if b is not None and b.n and b.value > 0:
            out[name] = a.value / b.value
    return out


def utility_report(
    unlearned: ModelUtility, *, original: ModelUtility | None = None, reference: ModelUtility | None = None
) -> UtilityReport:
    """Assemble a :class:`UtilityReport` with accuracy ratios (sets whose denominator is 0 are left out)."""
    return UtilityReport(
        unlearned=unlearned,
        original=original,
        reference=reference,
        accuracy_ratio_to_original=_ratios(unlearned, original),
        accuracy_ratio_to_reference=_ratios(unlearned, reference),
    )


def evaluate_utility(
    model: nn.Module,
    *,
    retain: FaceTensors,
    holdout: FaceTensors,
    test: FaceTensors | None = None,
    forget: FaceTensors | None = None,
    original: nn.Module | None = None,
    reference: nn.Module | None = None,
    age_bins: AgeBins | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 512,
    confidence_level: float = 0.95,
) -> UtilityReport:
    """Accuracy (and MAE) of ``model`` on each set, with ratios to ``original`` and ``reference``.

    Args:
        model: the unlearned model.
        retain: training examples kept.
        holdout: examples of people never trained on.
        test: optional test set.
        forget: optional forget set (its accuracy shows how much was unlearned).
        original: optional model before unlearning.
        reference: optional model retrained without the forget set.
        age_bins: age groups for the MAE.
        device: where to run; None uses each model's device.
        batch_size: rows per forward pass.
        confidence_level: coverage of the intervals.

    Raises:
        InputError: ``retain`` or ``holdout`` is empty.
    """
    if len(retain) == 0 or len(holdout) == 0:
        raise InputError(
            f"The 'retain' and 'holdout' parameters must be non-empty. Got {len(retain)} and {len(holdout)}."
        )
    sets: dict[str, FaceTensors] = {"retain": retain, "holdout": holdout}
    if test is not None:
        sets["test"] = test
    if forget is not None:
        sets["forget"] = forget

    def one(m: nn.Module) -> ModelUtility:
        sig: dict[str, Any] = {
            k: compute_signals(m, v, device=device, batch_size=batch_size) for k, v in sets.items()
        }
        return model_utility(sig, age_bins=age_bins, confidence_level=confidence_level)

    return utility_report(
        one(model),
        original=None if original is None else one(original),
        reference=None if reference is None else one(reference),
    )
