"""The :class:`Unlearner` base class, its context and its result.

A method is a subclass that sets ``name``, ``description``, ``paper`` and ``version``, nests a frozen
``Params`` model holding its default hyper-parameters, and overrides ONE hook, :meth:`Unlearner._run`,
which edits ``run.model`` (a private copy of the caller's model) through the shared machinery of
:class:`~deletion_sdk.unlearning._run.UnlearningRun`: epoch loops over the retain and forget sets,
bf16 autocast and channels-last on CUDA, the time budget checked between steps, progress reports and
seeded randomness. The caller's model is never modified.
"""

from __future__ import annotations

import abc
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.logging import get_logger
from deletion_sdk.training.config import TrainConfig

if TYPE_CHECKING:
    from deletion_sdk.unlearning._run import UnlearningRun

__all__ = [
    "Unlearner",
    "UnlearnerParams",
    "UnlearningContext",
    "UnlearningProgress",
    "UnlearningResult",
]


class UnlearnerParams(BaseModel):
    """Base of every method's ``Params``: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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


def _params_error(cls: type[Unlearner], error: ValidationError) -> InputError:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "?"
    if first.get("type") == "extra_forbidden":
        allowed = ", ".join(sorted(cls.Params.model_fields)) or "none"
        return InputError(
            f"The '{field}' parameter is not a parameter of unlearner '{cls.name}' "
            f"(it takes: {allowed}). Got {first.get('input')!r}."
        )
    return InputError(
        f"The '{field}' parameter of unlearner '{cls.name}' is invalid: {first.get('msg')}. "
        f"Got {first.get('input')!r} instead."
    )


def _check_data(name: str, data: FaceTensors) -> None:
    if not isinstance(data, FaceTensors):
        raise InputError(f"The '{name}' parameter must be a FaceTensors. Got {type(data).__name__} instead.")
    if len(data) == 0:
        raise InputError(f"The '{name}' parameter must hold at least one example. Got an empty set instead.")


class Unlearner(abc.ABC):
    """Base of every unlearning method.

    Subclasses set the class attributes, nest ``class Params(UnlearnerParams)`` with documented
    defaults, and implement :meth:`_run`. Instances are cheap: ``Finetune(lr=0.01)`` only validates
    and stores the parameters; work happens in :meth:`unlearn` / :meth:`run`.

    Attributes:
        name: registry key.
        description: one line, shown by ``deletion-sdk unlearners list``.
        paper: the citation of the method.
        version: bumped when the method's behaviour changes (certificates record it).
        exact: True only for methods whose output is distributed as a retrained model (``retrain``).
        params: this instance's validated parameters.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    paper: ClassVar[str]
    version: ClassVar[str] = "1"
    exact: ClassVar[bool] = False
    Params: ClassVar[type[UnlearnerParams]] = UnlearnerParams

    def __init__(self, **params: Any) -> None:
        try:
            self.params: UnlearnerParams = self.Params(**params)
        except ValidationError as e:
            raise _params_error(type(self), e) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    @abc.abstractmethod
    def _run(self, run: UnlearningRun) -> None:
        """Edit ``run.model`` in place (it is already a private copy on the run's device)."""

    def unlearn(
        self,
        model: nn.Module,
        *,
        forget: FaceTensors,
        retain: FaceTensors,
        context: UnlearningContext | None = None,
    ) -> nn.Module:
        """Return a copy of ``model`` that has forgotten ``forget``; ``model`` itself is not modified.

        Args:
            model: a classifier mapping images ``[b, 3, H, W]`` in [0, 1] to logits ``[b, classes]``.
            forget: the examples to forget.
            retain: the training examples to keep.
            context: device, seed, budget, progress and training configuration.

        Returns:
            The unlearned model, on the context's device.

        Raises:
            InputError: bad data or context.
            BudgetExceeded: the time budget ran out before the method finished.
        """
        return self.run(model, forget=forget, retain=retain, context=context).model

    def run(
        self,
        model: nn.Module,
        *,
        forget: FaceTensors,
        retain: FaceTensors,
        context: UnlearningContext | None = None,
    ) -> UnlearningResult:
        """Like :meth:`unlearn`, but returns the model with the run's record (time, steps, device, params)."""
        from deletion_sdk.unlearning._run import UnlearningRun

        if not isinstance(model, nn.Module):
            raise InputError(f"The 'model' parameter must be a torch nn.Module. Got {type(model).__name__}.")
        _check_data("forget", forget)
        _check_data("retain", retain)
        if forget.images.shape[1:] != retain.images.shape[1:]:
            raise InputError(
                "The 'forget' and 'retain' images must have the same shape. "
                f"Got {tuple(forget.images.shape[1:])} and {tuple(retain.images.shape[1:])} instead."
            )
        ctx = context if context is not None else UnlearningContext()
        device = ctx.resolved_device()
        budget_s = ctx.resolved_budget_s()
        log = ctx.logger if ctx.logger is not None else get_logger("deletion_sdk.unlearning")
        was_training = model.training
        work = copy.deepcopy(model).to(device)
        if device.type == "cuda":
            work = work.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        log.info(
            "unlearning.start",
            method=self.name,
            device=str(device),
            forget_size=len(forget),
            retain_size=len(retain),
            budget_s=budget_s,
        )
        start = time.perf_counter()
        fork_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(ctx.seed)
            run = UnlearningRun(
                method=self.name,
                model=work,
                forget=forget,
                retain=retain,
                params=self.params,
                context=ctx,
                device=device,
                budget_s=budget_s,
                start=start,
            )
            self._run(run)
        out = run.model
        out.train(was_training)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall = time.perf_counter() - start
        log.info("unlearning.done", method=self.name, steps=run.steps, wall_time_s=round(wall, 3))
        return UnlearningResult(
            model=out,
            name=self.name,
            version=self.version,
            params=self.params.model_dump(mode="json"),
            wall_time_s=wall,
            device=str(device),
            steps=run.steps,
            seed=ctx.seed,
            budget_s=budget_s,
            forget_size=len(forget),
            retain_size=len(retain),
        )
