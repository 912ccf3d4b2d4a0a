"""Per-example signals a membership test looks at: loss, logit-scaled confidence, margin, entropy.

The **margin** ``z_y − max_{k≠y} z_k`` is taken straight from the logits in float64, with no softmax, so
its ranking of examples survives any rescaling of the logits: dividing a model's last layer by 1e20 makes
every softmax loss round to exactly ``ln(classes)`` (all loss-based signals tie), but leaves the margins'
order, and so every rank-based attack on them, unchanged.

The logit-scaled confidence is the LiRA statistic (Carlini et al., 2022) that the NeurIPS 2023 unlearning
challenge scores: ``log p_y − log Σ_{j≠y} p_j``. It is computed stably, as the challenge's code does:
subtract the row maximum, take the softmax in float64, add ``1e-45`` inside both logarithms (so a probability
of exactly 0 or 1 gives a large finite value, about ±103.6, instead of ±inf). The challenge's published code
exponentiates in the logits' own dtype before promoting to float64; here the logits are promoted first, which
changes the result only when ``Σ_{j≠y} p_j`` is below about 1e-37 (the float32 subnormal range), where both
saturate near the 1e-45 floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.training.inference import predict_logits
from deletion_sdk.verification._arrays import BoolArray, FloatArray, FrozenModel, IntArray, as_float_array

__all__ = [
    "Signals",
    "compute_signals",
    "logit_margin",
    "logit_scaled_confidence",
    "per_example_loss",
    "prediction_entropy",
    "signals_from_logits",
]

_TINY = 1e-45


def _logits_and_targets(logits: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    z = as_float_array(logits, name="logits", ndim=2)
    y_raw = targets.detach().cpu().numpy() if isinstance(targets, torch.Tensor) else np.asarray(targets)
    if y_raw.ndim != 1 or y_raw.shape[0] != z.shape[0]:
        raise InputError(
            f"The 'targets' parameter must be shaped [{z.shape[0]}] to match logits {z.shape}. "
            f"Got {y_raw.shape} instead."
        )
    if y_raw.dtype.kind not in "iu":
        raise InputError(f"The 'targets' parameter must hold integer class indices. Got dtype {y_raw.dtype}.")
    y = y_raw.astype(np.int64)
    if z.shape[0] and z.shape[1] < 2:
        raise InputError(f"The 'logits' parameter must have at least 2 classes. Got {z.shape[1]}.")
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        raise InputError(
            f"The 'targets' parameter must hold class indices in [0, {z.shape[1] - 1}]. "
            f"Got values in [{y.min()}, {y.max()}]."
        )
    return z, y


def _softmax64(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    return p


def logit_scaled_confidence(logits: Any, targets: Any) -> np.ndarray:
    """``log p_y − log Σ_{j≠y} p_j`` for each row, computed stably in float64.

    Args:
        logits: ``[n, classes]`` numpy array or torch tensor (any device).
        targets: ``[n]`` integer class indices.

    Returns:
        float64 ``[n]``; higher means the model is more confident in the true class.

    Raises:
        InputError: shapes disagree, fewer than 2 classes, a target out of range or a non-finite logit.
    """
    z, y = _logits_and_targets(logits, targets)
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    p = _softmax64(z)
    rows = np.arange(z.shape[0])
    p_true = p[rows, y].copy()
    p[rows, y] = 0.0
    p_wrong = p.sum(axis=1)
    return np.log(p_true + _TINY) - np.log(p_wrong + _TINY)  # type: ignore[no-any-return]


def logit_margin(logits: Any, targets: Any) -> np.ndarray:
    """``z_y − max_{k≠y} z_k`` of each row in float64 ``[n]`` (``logits: [n, classes]``), no softmax.

    Positive when the true class wins. Scale-free: multiplying the logits by ``c > 0`` multiplies every
    margin by ``c`` and keeps their order.
    """
    z, y = _logits_and_targets(logits, targets)
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    rows = np.arange(z.shape[0])
    true = z[rows, y].copy()
    others = z.copy()
    others[rows, y] = -np.inf
    return true - others.max(axis=1)  # type: ignore[no-any-return]


def per_example_loss(logits: Any, targets: Any) -> np.ndarray:
    """Cross-entropy ``logsumexp(z) − z_y`` of each row, float64 ``[n]`` (``logits: [n, classes]``)."""
    z, y = _logits_and_targets(logits, targets)
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return lse - z[np.arange(z.shape[0]), y]  # type: ignore[no-any-return]


def prediction_entropy(logits: Any) -> np.ndarray:
    """Shannon entropy (nats) of the softmax of each row, float64 ``[n]`` (``logits: [n, classes]``)."""
    z = as_float_array(logits, name="logits", ndim=2)
    if z.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    logp = shifted - lse
    return -(np.exp(logp) * logp).sum(axis=1)  # type: ignore[no-any-return]


class Signals(FrozenModel):
    """Per-example signals of one model on one set of examples (all arrays ``[n]``, same order).

    Attributes:
        loss: cross-entropy (members tend to have LOW loss).
        confidence: logit-scaled confidence (members tend to have HIGH confidence).
        margin: ``z_y − max_{k≠y} z_k`` from the logits (members tend to have HIGH margins); scale-free.
        entropy: prediction entropy in nats (members tend to have LOW entropy).
        correct: whether the arg-max class equals the label.
        predicted: arg-max class.
        labels: the true class.
        num_classes: number of classes of the model's output.
        ages: age in years when known (for MAE), else None.
    """

    loss: FloatArray
    confidence: FloatArray
    margin: FloatArray
    entropy: FloatArray
    correct: BoolArray
    predicted: IntArray
    labels: IntArray
    num_classes: int
    ages: FloatArray | None = Field(default=None)

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.loss.shape[0])

    @property
    def accuracy(self) -> float:
        """Fraction of correct predictions (NaN when empty)."""
        return float(self.correct.mean()) if self.n else float("nan")


def signals_from_logits(logits: Any, targets: Any, *, ages: Any = None) -> Signals:
    """All signals from ``logits: [n, classes]`` and ``targets: [n]`` (``ages: [n]`` optional)."""
    z, y = _logits_and_targets(logits, targets)
    age_arr = None if ages is None else as_float_array(ages, name="ages", ndim=1)
    if age_arr is not None and age_arr.shape[0] != z.shape[0]:
        raise InputError(f"The 'ages' parameter must be shaped [{z.shape[0]}]. Got {age_arr.shape} instead.")
    predicted = z.argmax(axis=1) if z.shape[0] else np.empty(0, dtype=np.int64)
    return Signals(
        loss=per_example_loss(z, y),
        confidence=logit_scaled_confidence(z, y),
        margin=logit_margin(z, y),
        entropy=prediction_entropy(z),
        correct=predicted == y,
        predicted=predicted,
        labels=y,
        num_classes=int(z.shape[1]),
        ages=age_arr,
    )


def compute_signals(
    model: nn.Module,
    data: FaceTensors,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 512,
) -> Signals:
    """Run ``model`` over ``data`` (batched, on the model's device or ``device``) and compute its signals.

    Args:
        model: a classifier mapping ``[b, 3, H, W]`` images to ``[b, classes]`` logits.
        data: the examples; their labels are the targets and their ages are kept for MAE.
        device: where to run; None uses the device the model's parameters are on.
        batch_size: rows per forward pass.

    Returns:
        :class:`Signals` with arrays ``[len(data)]``.
    """
    if len(data) == 0:
        return signals_from_logits(np.empty((0, 2)), np.empty(0, dtype=np.int64), ages=np.empty(0))
    logits = predict_logits(model, data, device=device, batch_size=batch_size)
    return signals_from_logits(logits, data.labels, ages=data.ages)
