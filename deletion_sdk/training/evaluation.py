"""Evaluation helpers built on :func:`~deletion_sdk.training.inference.predict_logits`.

Training metrics, unlearning methods and verification all score models through these, so the
numbers they report agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn

from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.training.inference import predict_logits

__all__ = ["EvalMetrics", "accuracy", "evaluate", "example_losses", "mae_years", "metrics_from_logits"]


class EvalMetrics(BaseModel):
    """Accuracy and age error of a model on one dataset.

    Attributes:
        n: number of examples.
        accuracy: fraction of correctly predicted age groups (NaN when ``n == 0``).
        mae_years: mean absolute error in years, from the predicted group's midpoint.
        mean_loss: mean cross-entropy.
    """

    model_config = ConfigDict(frozen=True)

    n: int
    accuracy: float
    mae_years: float
    mean_loss: float


def metrics_from_logits(
    logits: torch.Tensor, data: FaceTensors, *, bins: AgeBins | None = None
) -> EvalMetrics:
    """Metrics from precomputed logits ``[n, classes]`` of ``data``'s rows (in order)."""
    if len(data) == 0:
        nan = float("nan")
        return EvalMetrics(n=0, accuracy=nan, mae_years=nan, mean_loss=nan)
    labels = data.labels.to(logits.device)
    pred = logits.argmax(dim=1)
    acc = float((pred == labels).double().mean())
    loss = float(F.cross_entropy(logits.float(), labels))
    b = bins if bins is not None else AgeBins()
    mae = b.mae_years(pred, data.ages.to(logits.device)) if b.num_classes == logits.shape[1] else float("nan")
    return EvalMetrics(n=len(data), accuracy=acc, mae_years=mae, mean_loss=loss)


def evaluate(
    model: nn.Module,
    data: FaceTensors,
    *,
    bins: AgeBins | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 512,
) -> EvalMetrics:
    """Accuracy, MAE (years) and mean loss of ``model`` on ``data`` in one forward pass.

    Args:
        model: classifier ``[b, 3, H, W] -> [b, classes]``.
        data: the examples.
        bins: age groups for the MAE (default :class:`AgeBins`; NaN MAE if its class count differs).
        device: where to run; None uses the model's device.
        batch_size: rows per forward pass.
    """
    return metrics_from_logits(
        predict_logits(model, data, device=device, batch_size=batch_size), data, bins=bins
    )


def accuracy(
    model: nn.Module, data: FaceTensors, *, device: str | torch.device | None = None, batch_size: int = 512
) -> float:
    """Fraction of rows of ``data`` whose age group ``model`` predicts correctly."""
    return evaluate(model, data, device=device, batch_size=batch_size).accuracy


def mae_years(
    model: nn.Module,
    data: FaceTensors,
    *,
    bins: AgeBins | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 512,
) -> float:
    """Mean absolute error in years of ``model``'s predicted group midpoints on ``data``."""
    return evaluate(model, data, bins=bins, device=device, batch_size=batch_size).mae_years


def example_losses(
    model: nn.Module, data: FaceTensors, *, device: str | torch.device | None = None, batch_size: int = 512
) -> torch.Tensor:
    """Per-example cross-entropy ``[n]`` (float32, CPU) of ``model`` on ``data``."""
    logits = predict_logits(model, data, device=device, batch_size=batch_size)
    if len(data) == 0:
        return torch.empty(0)
    return F.cross_entropy(logits, data.labels, reduction="none")
