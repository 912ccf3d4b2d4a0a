"""The shared machinery every unlearner's ``_run`` hook works through.

One :class:`UnlearningRun` per call of :meth:`Unlearner.run`: it owns the private model copy, the
seeded shuffling generator, the step counter and the clock. Its loops check the time budget before
every batch, so a run that overruns stops between steps with :class:`BudgetExceeded`. Nothing here
synchronises with the GPU inside a loop (no ``.item()``/``.cpu()``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from deletion_sdk._device import autocast
from deletion_sdk.data.tensors import FaceTensors, iterate_batches
from deletion_sdk.errors import BudgetExceeded
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.unlearning._types import P, UnlearnerParams, UnlearningContext, UnlearningProgress

__all__ = ["Batch", "UnlearningRun", "concat", "cross_entropy", "top_fraction_masks"]

Q = TypeVar("Q", bound=UnlearnerParams)


class Batch(NamedTuple):
    """One mini-batch on the run's device.

    Attributes:
        x: float32 images ``[b, 3, H, W]`` in [0, 1] (channels-last on CUDA).
        y: int64 labels ``[b]``.
        positions: int64 row indices ``[b]`` into the dataset (CPU).
    """

    x: torch.Tensor
    y: torch.Tensor
    positions: torch.Tensor


class UnlearningRun(Generic[P]):
    """State and helpers of one unlearning run, generic in the method's parameters ``P``.

    Attributes:
        method: the unlearner's name.
        model: the private model copy the hook edits (it may be replaced, e.g. by ``retrain``).
        forget: the forget set.
        retain: the retain set.
        params: the method's validated parameters (typed as its ``Params`` for an ``Unlearner[Params]``).
        context: the run's context.
        device: where tensors live.
        budget_s: resolved time budget, None when unlimited.
        generator: CPU generator seeded from the context; use it for every shuffle and random draw.
        steps: optimiser steps finished.
        phase: current phase name, for progress reports.
        epoch: current epoch of the phase.
    """

    def __init__(
        self,
        *,
        method: str,
        model: nn.Module,
        forget: FaceTensors,
        retain: FaceTensors,
        params: P,
        context: UnlearningContext,
        device: torch.device,
        budget_s: float | None,
        start: float,
    ) -> None:
        self.method = method
        self.model = model
        self.forget = forget
        self.retain = retain
        self.params = params
        self.context = context
        self.device = device
        self.budget_s = budget_s
        self.generator = torch.Generator().manual_seed(context.seed)
        self.steps = 0
        self.phase = "start"
        self.epoch = 0
        self._start = start
        self._num_classes: int | None = None

    # -- parameters, sizes ------------------------------------------------------------------

    def params_as(self, cls: type[Q]) -> Q:
        """The run's parameters, typed as ``cls`` (checked at run time).

        Only needed by methods that subclass the bare ``Unlearner`` (written before it was generic);
        in an ``Unlearner["MyMethod.Params"]``, ``run.params`` is already typed.

        Raises:
            TypeError: the parameters are not a ``cls``.
        """
        if not isinstance(self.params, cls):
            raise TypeError(f"params are {type(self.params).__name__}, not {cls.__name__}")
        return self.params

    def batch_size(self, override: int | None = None) -> int:
        """``override``, else the original TrainConfig's ``batch_size``."""
        return override if override is not None else self.train_config.batch_size

    @property
    def num_classes(self) -> int:
        """Output width of the model, read from one forward pass in eval mode (no side effects)."""
        if self._num_classes is None:
            x = self.forget.images[:1].to(self.device).float().div_(255.0)
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                self._num_classes = int(self.forward(x).shape[-1])
            self.model.train(was_training)
        return self._num_classes

    def class_counts(self) -> torch.Tensor:
        """float32 ``[classes]`` on the device: the context's counts, else counted on the retain set."""
        if self.context.class_counts is not None:
            counts = torch.tensor(self.context.class_counts, dtype=torch.float32)
        else:
            counts = torch.bincount(self.retain.labels, minlength=self.num_classes).float()
        return counts.to(self.device)

    # -- time, progress -----------------------------------------------------------------------

    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start

    def check_budget(self) -> None:
        """Raise :class:`BudgetExceeded` when the budget is spent."""
        if self.budget_s is None:
            return
        elapsed = self.elapsed_s()
        if elapsed > self.budget_s:
            raise BudgetExceeded(
                f"unlearner '{self.method}' ran past its budget of {self.budget_s:.3g} s "
                f"after {self.steps} steps ({elapsed:.3g} s, phase {self.phase!r})",
                budget_s=self.budget_s,
                elapsed_s=elapsed,
                completed_steps=self.steps,
            )

    def report(self) -> None:
        """Send one progress report to the context's callback, if any."""
        if self.context.progress is not None:
            self.context.progress(
                UnlearningProgress(
                    method=self.method,
                    phase=self.phase,
                    epoch=self.epoch,
                    step=self.steps,
                    elapsed_s=self.elapsed_s(),
                    budget_s=self.budget_s,
                )
            )

    # -- loops --------------------------------------------------------------------------------

    def epochs(self, n: int, *, phase: str) -> Iterator[int]:
        """``range(n)`` that records the phase and epoch for progress reports."""
        self.phase = phase
        for epoch in range(n):
            self.epoch = epoch
            yield epoch

    def batches(
        self,
        data: FaceTensors,
        *,
        batch_size: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> Iterator[Batch]:
        """One pass over ``data`` on the device, checking the budget before every batch."""
        size = self.batch_size(batch_size)
        for x, y, idx in iterate_batches(
            data,
            size,
            shuffle=shuffle,
            generator=self.generator,
            device=self.device,
            drop_last=drop_last and len(data) > size,
        ):
            self.check_budget()
            if self.device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            yield Batch(x, y, idx)

    def cycle(self, data: FaceTensors, *, batch_size: int | None = None) -> Iterator[Batch]:
        """Endless reshuffled passes over ``data`` (pair a small set with a large one via ``zip``)."""
        while True:
            yield from self.batches(data, batch_size=batch_size)

    # -- model helpers ------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
        """float32 logits ``[b, classes]`` of ``model`` (default: the run's model) under autocast."""
        net = self.model if model is None else model
        with autocast(self.device):
            return net(x).float()

    def teacher(self, model: nn.Module | None = None) -> nn.Module:
        """A frozen eval-mode copy of ``model`` (default: the run's model as it is now)."""
        frozen = copy.deepcopy(self.model if model is None else model)
        frozen.eval()
        for p in frozen.parameters():
            p.requires_grad_(False)
        return frozen

    @property
    def train_config(self) -> TrainConfig:
        """The original training configuration (the SDK's default recipe when the context has none)."""
        config = self.context.train_config
        return config if config is not None else TrainConfig()

    def optimizer(
        self,
        lr_scale: float,
        *,
        params: Sequence[nn.Parameter] | None = None,
        weight_decay: bool = True,
    ) -> torch.optim.Optimizer:
        """The original training's optimiser at ``lr_scale`` times its peak learning rate.

        Same kind (SGD with Nesterov momentum, or AdamW), momentum and weight decay as the
        TrainConfig, decay on weight matrices and kernels only, as in training. Methods state their
        learning rates as fractions of the training one, so defaults tuned on one recipe carry over.

        Args:
            lr_scale: learning rate as a fraction of ``train_config.lr``.
            params: parameters to optimise (default: all trainable parameters of the run's model).
            weight_decay: False turns decay off.
        """
        config = self.train_config
        chosen = [p for p in (self.model.parameters() if params is None else params) if p.requires_grad]
        decay = config.weight_decay if weight_decay else 0.0
        groups: list[dict[str, Any]] = [
            {"params": [p for p in chosen if p.dim() > 1], "weight_decay": decay},
            {"params": [p for p in chosen if p.dim() <= 1], "weight_decay": 0.0},
        ]
        groups = [g for g in groups if g["params"]]
        lr = config.lr * lr_scale
        if config.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=config.momentum > 0)
        return torch.optim.AdamW(groups, lr=lr)

    def cosine(self, optimizer: torch.optim.Optimizer, total_steps: int) -> Any:
        """A cosine learning-rate decay to 0 over ``total_steps`` optimiser steps."""
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(total_steps), 1))

    def steps_per_epoch(self, data: FaceTensors, batch_size: int | None = None) -> int:
        """Batches in one pass over ``data``."""
        return math.ceil(len(data) / self.batch_size(batch_size))

    def step(
        self,
        loss: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        *,
        scheduler: Any | None = None,
        update_scale: Sequence[tuple[torch.Tensor, torch.Tensor]] = (),
        clip_grad_norm: float | None = None,
    ) -> None:
        """Backward, optimiser step (optionally clipped, optionally rescaled per weight), count, report.

        Args:
            loss: scalar loss to minimise.
            optimizer: the optimiser to step.
            scheduler: an LR scheduler stepped after the optimiser.
            update_scale: ``(parameter, factor)`` pairs: each weight moves ``factor`` times what the
                optimiser moved it (0 freezes it, 0.1 is a tenth of the learning rate), for any
                optimiser, momentum and weight decay included. ``factor`` broadcasts.
            clip_grad_norm: clip the global gradient norm to this value.
        """
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), clip_grad_norm)
        before = [param.detach().clone() for param, _ in update_scale]
        optimizer.step()
        with torch.no_grad():
            for (param, factor), old in zip(update_scale, before, strict=True):
                param.lerp_(old, 1.0 - factor)  # old + factor * (new - old)
        if scheduler is not None:
            scheduler.step()
        self.steps += 1
        self.report()

    def gradients(
        self,
        data: FaceTensors,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        square: bool = False,
        batch_size: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Per-parameter gradient statistics over ``data``, with the model in eval mode (BN stats kept).

        Args:
            data: the examples.
            loss_fn: ``(logits [b, classes], labels [b]) -> scalar``; called per batch.
            square: accumulate ``grad**2`` (a diagonal Fisher estimate) instead of ``grad``.
            batch_size: rows per backward pass.

        Returns:
            ``{parameter name: tensor shaped like the parameter}``: the gradient (or squared gradient)
            averaged over batches.
        """
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        totals = {n: torch.zeros_like(p) for n, p in named}
        was_training = self.model.training
        self.model.eval()
        batches = 0
        try:
            for batch in self.batches(data, batch_size=batch_size, shuffle=False):
                self.model.zero_grad(set_to_none=True)
                loss_fn(self.forward(batch.x), batch.y).backward()
                for n, p in named:
                    if p.grad is not None:
                        totals[n].add_(p.grad.square() if square else p.grad)
                batches += 1
        finally:
            self.model.zero_grad(set_to_none=True)
            self.model.train(was_training)
        return {n: t.div_(max(batches, 1)) for n, t in totals.items()}


def concat(first: FaceTensors, second: FaceTensors) -> FaceTensors:
    """Rows of ``first`` followed by rows of ``second`` (subject ids dropped: not needed to unlearn)."""
    return FaceTensors(
        images=torch.cat([first.images, second.images]),
        labels=torch.cat([first.labels, second.labels]),
        ages=torch.cat([first.ages, second.ages]),
        example_ids=first.example_ids + second.example_ids,
    )


def top_fraction_masks(
    scores: dict[str, torch.Tensor], fraction: float, *, largest: bool = True
) -> dict[str, torch.Tensor]:
    """Boolean masks selecting exactly ``round(fraction * total)`` entries with the largest (or smallest)
    score across all tensors together; ties (e.g. many exact zeros) are broken by position, never
    by selecting them all.

    Args:
        scores: ``{name: tensor}`` of any shapes.
        fraction: share of all entries to select, in (0, 1].
        largest: select the largest scores (else the smallest).

    Returns:
        ``{name: bool tensor shaped like scores[name]}``.
    """
    flat = torch.cat([t.flatten() for t in scores.values()])
    k = min(flat.numel(), max(1, round(fraction * flat.numel())))
    chosen = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    chosen[torch.topk(flat, k, largest=largest, sorted=False).indices] = True
    masks: dict[str, torch.Tensor] = {}
    offset = 0
    for name, t in scores.items():
        masks[name] = chosen[offset : offset + t.numel()].view_as(t)
        offset += t.numel()
    return masks


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; a named helper so methods can pass it to :meth:`UnlearningRun.gradients`."""
    return F.cross_entropy(logits, labels)
