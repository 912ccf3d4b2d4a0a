"""The training loop: seeded, class-weighted option, SGD or Adam, warm-up + cosine schedule.

On CUDA the whole uint8 training set is moved to the device once, the forward pass runs under bf16
autocast in channels_last layout, and loss/accuracy are accumulated on the device: nothing in the
loop waits for the GPU (no ``.item()``/``.cpu()``), except one read per epoch for the progress bar
when ``progress=True``. On CPU the same code runs in float32 and, under a fixed seed and thread
count, produces bit-identical weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from deletion_sdk._device import autocast, resolve_device
from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.logging import get_logger
from deletion_sdk.training.architectures import build_model
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.evaluation import evaluate

__all__ = ["TrainMetrics", "TrainResult", "class_weights", "make_optimizer", "make_scheduler", "train_model"]


class TrainMetrics(BaseModel):
    """What a training run measured (all plain floats, JSON-serialisable).

    Attributes:
        accuracy: accuracy per evaluation set name (``eval_sets`` of :func:`train_model`).
        mae_years: MAE in years per evaluation set name.
        mean_loss: mean cross-entropy per evaluation set name.
        train_accuracy: accuracy on the training set, evaluated after training (eval mode).
        train_mae_years: MAE in years on the training set.
        train_loss: mean cross-entropy on the training set, evaluated after training.
        epoch_losses: mean training loss of every epoch (train mode, as optimised).
        n_train: training examples.
        epochs: epochs run.
        steps: optimiser steps taken.
        device: the device trained on.
        wall_time_s: seconds for the whole call (build, train, evaluate).
        train_time_s: seconds spent in the optimisation loop.
        images_per_s: training images processed per second of the optimisation loop.
    """

    model_config = ConfigDict(frozen=True)

    accuracy: dict[str, float]
    mae_years: dict[str, float]
    mean_loss: dict[str, float]
    train_accuracy: float
    train_mae_years: float
    train_loss: float
    epoch_losses: tuple[float, ...]
    n_train: int
    epochs: int
    steps: int
    device: str
    wall_time_s: float
    train_time_s: float
    images_per_s: float


@dataclass(frozen=True)
class TrainResult:
    """A trained model (in eval mode, on the training device) with its configuration and metrics."""

    model: nn.Module
    config: TrainConfig
    metrics: TrainMetrics


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse-frequency class weights ``[num_classes]`` (float32) with mean weight 1 over present labels.

    ``w_c = n / (K_present * count_c)``; classes absent from ``labels`` get weight 0 (they never
    contribute to the loss anyway).

    Args:
        labels: int labels ``[n]`` in ``[0, num_classes)``.
        num_classes: number of classes.
    """
    counts = torch.bincount(labels.long().cpu(), minlength=num_classes)[:num_classes].double()
    present = int((counts > 0).sum())
    if present == 0:
        return torch.ones(num_classes)
    weights = torch.where(
        counts > 0, counts.sum() / (present * counts.clamp(min=1)), torch.zeros_like(counts)
    )
    return weights.float()


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``config`` asks for; weight decay applies to weight matrices/kernels only.

    ``"sgd"``: SGD with ``momentum`` (Nesterov when momentum > 0). ``"adam"``: AdamW (decoupled decay;
    plain Adam when ``weight_decay == 0``).
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0)
    return torch.optim.AdamW(groups, lr=config.lr)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, *, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step LR: linear warm-up over ``warmup_epochs``, then cosine decay to ``final_lr_fraction``."""
    steps_per_epoch = max(1, total_steps // max(1, config.epochs))
    warmup = min(total_steps, round(config.warmup_epochs * steps_per_epoch))
    floor = config.final_lr_fraction

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        span = max(1, total_steps - warmup)
        progress = min(1.0, (step - warmup) / span)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _check_inputs(train: FaceTensors, config: TrainConfig) -> None:
    if len(train) == 0:
        raise InputError(
            "The 'train' parameter must hold at least one example. Got an empty dataset instead."
        )
    if train.image_size != config.image_size or train.images.shape[-2] != config.image_size:
        raise InputError(
            f"The 'train' images must be {config.image_size}x{config.image_size} (config.image_size). "
            f"Got {tuple(train.images.shape[-2:])} instead."
        )
    lo, hi = int(train.labels.min()), int(train.labels.max())
    if lo < 0 or hi >= config.num_classes:
        raise InputError(
            f"The 'train' labels must lie in [0, {config.num_classes}) (config.num_classes). "
            f"Got labels in [{lo}, {hi}] instead."
        )


def train_model(
    train: FaceTensors,
    *,
    config: TrainConfig,
    device: str | torch.device = "auto",
    eval_sets: Mapping[str, FaceTensors] | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
    bins: AgeBins | None = None,
    on_step: Callable[[], None] | None = None,
) -> TrainResult:
    """Train an age predictor.

    Args:
        train: training examples (images ``[n, 3, S, S]`` with ``S == config.image_size``).
        config: the configuration (architecture, optimiser, schedule, seed, …).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda[:N]"``.
        eval_sets: named datasets evaluated after training (e.g. ``{"holdout": ..., "test": ...}``).
        progress: show a rich progress bar.
        model: train this model instead of building ``config.arch`` from scratch (it is modified in place).
        bins: age groups used for the MAE figures (default :class:`AgeBins`).
        on_step: called after every optimiser step (host-side, no GPU sync); it may raise to stop the
            run, as the ``retrain`` unlearner does when its time budget is spent.

    Returns:
        A :class:`TrainResult`; the model is left in eval mode on ``device``.

    Raises:
        InputError: empty training set, image size or labels inconsistent with ``config``.
    """
    started = time.perf_counter()
    _check_inputs(train, config)
    dev = resolve_device(device)
    n = len(train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    fork_devices = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(config.seed)
        if model is None:
            model = build_model(config.arch, num_classes=config.num_classes, image_size=config.image_size)
        model = model.to(dev).to(memory_format=torch.channels_last)
        gen = torch.Generator().manual_seed(config.seed)
        optimizer = make_optimizer(model, config)
        scheduler = make_scheduler(optimizer, config, total_steps=total_steps)
        weight = class_weights(train.labels, config.num_classes).to(dev) if config.class_weighted else None
        loop_start = time.perf_counter()
        epoch_losses = _optimise(
            model,
            train,
            config,
            dev,
            optimizer,
            scheduler,
            weight,
            gen,
            progress=progress,
            total=total_steps,
            on_step=on_step,
        )
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        train_time = time.perf_counter() - loop_start
    if dev.type != "cuda":
        # Back to the default layout so the trained model and its reloaded checkpoint compute identically.
        model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    train_eval = evaluate(model, train, bins=bins, device=dev)
    evals = {name: evaluate(model, data, bins=bins, device=dev) for name, data in (eval_sets or {}).items()}
    metrics = TrainMetrics(
        accuracy={k: v.accuracy for k, v in evals.items()},
        mae_years={k: v.mae_years for k, v in evals.items()},
        mean_loss={k: v.mean_loss for k, v in evals.items()},
        train_accuracy=train_eval.accuracy,
        train_mae_years=train_eval.mae_years,
        train_loss=train_eval.mean_loss,
        epoch_losses=tuple(float(v) for v in epoch_losses.tolist()),
        n_train=n,
        epochs=config.epochs,
        steps=total_steps,
        device=str(dev),
        wall_time_s=time.perf_counter() - started,
        train_time_s=train_time,
        images_per_s=n * config.epochs / max(train_time, 1e-9),
    )
    get_logger("deletion_sdk.training").info(
        "training finished",
        arch=config.arch,
        n_train=n,
        epochs=config.epochs,
        device=str(dev),
        train_accuracy=round(metrics.train_accuracy, 4),
        accuracy={k: round(v, 4) for k, v in metrics.accuracy.items()},
        images_per_s=round(metrics.images_per_s, 1),
    )
    return TrainResult(model=model, config=config, metrics=metrics)


def _optimise(
    model: nn.Module,
    train: FaceTensors,
    config: TrainConfig,
    dev: torch.device,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    weight: torch.Tensor | None,
    gen: torch.Generator,
    *,
    progress: bool,
    total: int,
    on_step: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Run every epoch; returns the mean training loss per epoch ``[epochs]`` (CPU)."""
    cuda = dev.type == "cuda"
    images = train.images.to(dev) if cuda else train.images
    labels = train.labels.to(dev) if cuda else train.labels
    n = len(train)
    losses = torch.zeros(config.epochs, device=dev)
    model.train()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),  # stdout stays clean for --json output
        disable=not progress,
        transient=False,
    )
    with bar:
        task = bar.add_task(f"training {config.arch}", total=total)
        for epoch in range(config.epochs):
            order = torch.randperm(n, generator=gen)
            flips = torch.rand(n, generator=gen) < 0.5 if config.augment_flip else None
            if cuda:
                order = order.pin_memory().to(dev, non_blocking=True)
                flips = None if flips is None else flips.pin_memory().to(dev, non_blocking=True)
            for start in range(0, n, config.batch_size):
                idx = order[start : start + config.batch_size]
                x = images[idx].float().div_(255.0)
                if flips is not None:
                    x = torch.where(flips[start : start + config.batch_size].view(-1, 1, 1, 1), x.flip(3), x)
                x = x.contiguous(memory_format=torch.channels_last)
                y = labels[idx]
                with autocast(dev):
                    logits = model(x)
                loss = F.cross_entropy(
                    logits.float(), y, weight=weight, label_smoothing=config.label_smoothing
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                if on_step is not None:
                    on_step()
                losses[epoch] += loss.detach() * y.shape[0]
                bar.advance(task)
            if progress:  # one host read per epoch, only when a human is watching
                bar.update(
                    task, description=f"epoch {epoch + 1}/{config.epochs} loss {float(losses[epoch]) / n:.3f}"
                )
    return (losses / n).cpu()
