"""The :class:`Unlearner` base class (its context, progress and result types live in ``_types``).

A method is a subclass, generic in its parameters (``class MyMethod(Unlearner["MyMethod.Params"])``),
that sets ``name``, ``description``, ``paper`` and ``version``, nests a frozen ``Params`` model holding
its default hyper-parameters, and overrides ONE hook, :meth:`Unlearner._run`, which edits ``run.model``
(a private copy of the caller's model) through the shared machinery of
:class:`~deletion_sdk.unlearning._run.UnlearningRun`: epoch loops over the retain and forget sets,
bf16 autocast and channels-last on CUDA, the time budget checked between steps, progress reports and
seeded randomness. The caller's model is never modified.
"""

from __future__ import annotations

import abc
import copy
import time
from typing import Any, ClassVar, Generic

import torch
from pydantic import ValidationError
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.logging import get_logger
from deletion_sdk.unlearning._run import UnlearningRun
from deletion_sdk.unlearning._types import (
    P,
    UnlearnerParams,
    UnlearningContext,
    UnlearningProgress,
    UnlearningResult,
)

# The shared types are re-exported: ``from deletion_sdk.unlearning.base import UnlearnerParams`` still works.
__all__ = [
    "Unlearner",
    "UnlearnerParams",
    "UnlearningContext",
    "UnlearningProgress",
    "UnlearningResult",
]


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


class Unlearner(abc.ABC, Generic[P]):
    """Base of every unlearning method, generic in its parameters ``P``.

    Subclasses name their parameters in the base (``class Finetune(Unlearner["Finetune.Params"])``), set
    the class attributes, nest ``class Params(UnlearnerParams)`` with documented defaults, and implement
    :meth:`_run`, whose ``run.params`` is then typed as their ``Params``. Instances are cheap:
    ``Finetune(lr=0.01)`` only validates and stores the parameters; work happens in :meth:`unlearn` /
    :meth:`run`. A subclass of the bare ``Unlearner`` still works (its ``run.params`` is untyped; cast
    it with ``run.params_as(self.Params)``).

    Attributes:
        name: registry key.
        description: one line, shown by ``deletion-sdk unlearners list``.
        paper: the citation of the method.
        version: bumped when the method's behaviour changes (certificates record it).
        exact: True only for methods whose output is distributed as a retrained model (``retrain``).
        needs_recipe: True for methods that follow the original training recipe (its optimiser, learning
            rate or batch size). They refuse a context without ``train_config`` rather than guess one;
            a method that needs none runs anyway and its record says ``training_recipe: none``.
        params: this instance's validated parameters.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    paper: ClassVar[str]
    version: ClassVar[str] = "1"
    exact: ClassVar[bool] = False
    needs_recipe: ClassVar[bool] = True
    # Typed type[P], not ClassVar (mypy forbids type variables in ClassVar), so that ``self.Params(...)``
    # is a P. The default, for methods without parameters, is no P in general: hence the ignore.
    Params: type[P] = UnlearnerParams  # type: ignore[assignment]

    def __init__(self, **params: Any) -> None:
        try:
            self.params: P = self.Params(**params)
        except ValidationError as e:
            raise _params_error(type(self), e) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    def _record_params(self, ctx: UnlearningContext) -> dict[str, Any]:
        """The parameters as recorded (certificates cite them), naming a run made without a recipe."""
        params: dict[str, Any] = self.params.model_dump(mode="json")
        if ctx.train_config is None:
            params["training_recipe"] = "none"
        return params

    @abc.abstractmethod
    def _run(self, run: UnlearningRun[P]) -> None:
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
        if ctx.train_config is None and self.needs_recipe:
            raise InputError(
                f"Unlearner '{self.name}' follows the original training recipe, but the context has no "
                "train_config (the model was registered without a recipe); use a method that needs none."
            )
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
            params=self._record_params(ctx),
            wall_time_s=wall,
            device=str(device),
            steps=run.steps,
            seed=ctx.seed,
            budget_s=budget_s,
            forget_size=len(forget),
            retain_size=len(retain),
        )
