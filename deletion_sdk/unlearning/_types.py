"""The types an unlearner and its run share: parameters, context, progress reports and the result.

They live apart from :mod:`~deletion_sdk.unlearning.base` so that the run machinery
(:mod:`~deletion_sdk.unlearning._run`) can use them without importing the :class:`Unlearner` base,
which itself builds on the run: the imports go ``base -> _run -> _types``, never back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk.errors import InputError
from deletion_sdk.training.config import TrainConfig

__all__ = [
    "P",
    "UnlearnerParams",
    "UnlearningContext",
    "UnlearningProgress",
    "UnlearningResult",
]


class UnlearnerParams(BaseModel):
    """Base of every method's ``Params``: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


P = TypeVar("P", bound=UnlearnerParams)
"""A method's ``Params`` class: :class:`Unlearner` and :class:`UnlearningRun` are generic in it."""


class UnlearningProgress(BaseModel):
    """One progress report, sent to ``UnlearningContext.progress`` after every optimiser step.

    Attributes:
        method: the unlearner's registry name.
        phase: what the method is doing (``"retain"``, ``"forget"``, ``"saliency"`` …).
        epoch: zero-based epoch of the current phase.
        step: optimiser steps finished so far.
        elapsed_s: seconds since the run started.
        budget_s: the resolved time budget, None when unlimited.
    """

    model_config = ConfigDict(frozen=True)

    method: str
    phase: str
    epoch: int
    step: int
    elapsed_s: float
    budget_s: float | None


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(
            f"The '{name}' parameter must be a finite number > 0 or None. Got {value!r} instead."
        )


@dataclass(frozen=True, kw_only=True)
class UnlearningContext:
    """Everything an unlearner needs besides the model and the data.

    Attributes:
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda[:N]"`` or a torch.device.
        seed: seeds every random choice of the run (shuffles, random labels, noise, re-initialisation);
            two runs with the same seed give identical weights on CPU.
        budget_s: wall-clock budget in seconds; None means unlimited.
        retrain_time_s: a measured (or estimated) time to retrain from scratch, in seconds.
        budget_fraction: budget as a fraction of ``retrain_time_s``. With ``budget_s`` too, the smaller wins.
        progress: called with an :class:`UnlearningProgress` after every optimiser step.
        logger: a structlog-style logger; defaults to ``get_logger("deletion_sdk.unlearning")``.
        train_config: the original model's ``TrainConfig`` (``retrain`` needs it; batch size defaults
            to its ``batch_size``).
        class_counts: training examples per class, for class-weighted losses; counted from the retain
            set when None.
    """

    device: str | torch.device = "auto"
    seed: int = 0
    budget_s: float | None = None
    retrain_time_s: float | None = None
    budget_fraction: float | None = None
    progress: Callable[[UnlearningProgress], None] | None = None
    logger: Any | None = None
    train_config: TrainConfig | None = None
    class_counts: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"The 'seed' parameter must be an int >= 0. Got {self.seed!r} instead.")
        _positive("budget_s", self.budget_s)
        _positive("retrain_time_s", self.retrain_time_s)
        _positive("budget_fraction", self.budget_fraction)
        if self.budget_fraction is not None and self.retrain_time_s is None:
            raise InputError(
                "The 'budget_fraction' parameter needs 'retrain_time_s' (the measured or estimated "
                "retrain time it is a fraction of). Got retrain_time_s=None instead."
            )
        if self.train_config is not None and not isinstance(self.train_config, TrainConfig):
            raise InputError(
                "The 'train_config' parameter must be a TrainConfig or None. "
                f"Got {type(self.train_config).__name__} instead."
            )
        if self.class_counts is not None and (
            not self.class_counts or any(int(c) < 0 for c in self.class_counts)
        ):
            raise InputError(
                "The 'class_counts' parameter must be a non-empty tuple of counts >= 0. "
                f"Got {self.class_counts!r} instead."
            )

    def resolved_budget_s(self) -> float | None:
        """The budget in seconds: ``budget_s``, ``retrain_time_s * budget_fraction``, the smaller, or None."""
        candidates = [self.budget_s]
        if self.budget_fraction is not None and self.retrain_time_s is not None:
            candidates.append(self.retrain_time_s * self.budget_fraction)
        given = [float(c) for c in candidates if c is not None]
        return min(given) if given else None

    def resolved_device(self) -> torch.device:
        """The torch device this context asks for (``"auto"`` picks CUDA when present)."""
        return resolve_device(self.device)


class UnlearningResult(BaseModel):
    """An unlearned model and what it took to make it.

    ``model`` is excluded from serialisation: ``model_dump_json()`` gives the run's record.

    Attributes:
        model: the unlearned model, on the run's device, in the train/eval mode of the input model.
        name: registry name of the method.
        version: the method's version.
        params: the hyper-parameters used (defaults merged with overrides).
        wall_time_s: seconds the run took.
        device: where it ran (``"cpu"``, ``"cuda:0"`` …).
        steps: optimiser steps taken.
        seed: the seed of the run.
        budget_s: the resolved time budget, None when unlimited.
        forget_size: forget-set rows.
        retain_size: retain-set rows.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: nn.Module = Field(exclude=True, repr=False)
    name: str
    version: str
    params: dict[str, Any]
    wall_time_s: float
    device: str
    steps: int
    seed: int
    budget_s: float | None
    forget_size: int
    retain_size: int
