"""Estimating a retrain time, so a budget can be a fraction of it.

``UnlearningContext(retrain_time_s=..., budget_fraction=0.1)`` needs the time a full retrain takes.
Two figures exist, and :func:`retrain_time_s` (what the batch job calls) picks one:

- :func:`recorded_retrain_time_s`: a model version's recorded training time, scaled to the retain
  set (free; measured when and where the model was trained);
- :func:`estimate_retrain_time_s`: a probe that runs the retrain's own code path
  (:func:`~deletion_sdk.training.train_model`) on a few batches of the retain set, here and now, and
  extrapolates to the TrainConfig's epochs (about 1-2 % of a retrain at the demo size).

``benchmarks/retrain_estimate.py`` measures both against real retrains.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.evaluation import evaluate
from deletion_sdk.training.loop import train_model

__all__ = ["PROBE_BELOW_S", "estimate_retrain_time_s", "recorded_retrain_time_s", "retrain_time_s"]

PROBE_BELOW_S = 30.0
"""A recorded retrain time below this many seconds is replaced by a probe (see :func:`retrain_time_s`)."""


def estimate_retrain_time_s(
    model: nn.Module,
    retain: FaceTensors,
    *,
    train_config: TrainConfig,
    device: str | torch.device = "auto",
    probe_steps: int = 4,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds a retrain on ``retain`` with ``train_config`` would take, from a short timed probe.

    The probe trains a copy of ``model`` with :func:`~deletion_sdk.training.train_model` itself (the
    retrain's own step: layout, augmentation, class weights, clipping, scheduler) on a random subset
    of ``retain``: ``probe_steps`` full batches plus, when ``len(retain)`` is not a multiple of the
    batch size, a last partial batch of the same size as the retrain's. Its first epoch warms up
    (allocation, kernel selection, lazy initialisation) and is not timed; the following epoch(s) time
    at least ``probe_steps`` steps. The evaluation the retrain ends with (one forward pass over the
    retain set) is timed on the subset and scaled. ``model`` is not modified.

    Args:
        model: a model of the architecture to retrain.
        retain: the retain set (images ``[n, 3, S, S]`` with ``S == train_config.image_size``).
        train_config: the original training configuration (epochs, batch size, optimiser).
        device: where the retrain would run.
        probe_steps: full-batch optimiser steps to time (>= 1).
        clock: seconds from an arbitrary origin (``time.perf_counter``; tests pass a fake one).

    Returns:
        ``epochs * (full steps * s per full step + s of the partial step) + evaluation s``.

    Raises:
        InputError: ``probe_steps`` < 1, an empty retain set, or a retain set ``train_config``
            cannot train on.
    """
    if probe_steps < 1:
        raise InputError(f"The 'probe_steps' parameter must be an int >= 1. Got {probe_steps!r} instead.")
    n = len(retain)
    if n == 0:
        raise InputError("The 'retain' parameter must hold at least one example. Got an empty set instead.")
    dev = resolve_device(device)
    bs = train_config.batch_size
    full, partial = n // bs, n % bs
    probe_full = min(full, probe_steps)
    per_epoch = probe_full + (partial > 0)
    timed_epochs = math.ceil(probe_steps / per_epoch)
    n_probe = probe_full * bs + partial
    rows = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_probe]
    subset = retain.take(rows)
    config = train_config.model_copy(update={"epochs": 1 + timed_epochs})

    stamps: list[float] = []

    def stamp() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        stamps.append(clock())

    trained = train_model(subset, config=config, device=dev, model=copy.deepcopy(model), on_step=stamp)
    stamp()
    evaluate(trained.model, subset, device=dev)
    stamp()
    eval_s = (stamps[-1] - stamps[-2]) * n / n_probe

    timed = [
        (g % per_epoch, stamps[g] - stamps[g - 1]) for g in range(per_epoch, per_epoch * (1 + timed_epochs))
    ]
    full_times = [t for pos, t in timed if pos < probe_full]
    partial_times = [t for pos, t in timed if pos >= probe_full]
    epoch_s = 0.0
    if full:
        epoch_s += full * sum(full_times) / len(full_times)
    if partial:
        epoch_s += sum(partial_times) / len(partial_times)
    return epoch_s * train_config.epochs + eval_s


def recorded_retrain_time_s(
    metrics: Mapping[str, Any], n_retain: int, *, device: str | torch.device | None = None
) -> float | None:
    """Seconds a retrain on ``n_retain`` examples would take, from a model version's recorded metrics.

    A version the batch job made carries ``retrain_estimate_s`` (its parent's figure); a trained
    version carries ``train_time_s`` for ``n_train`` examples (its optimisation loop), scaled
    linearly to ``n_retain``. A training time recorded on another kind of device than ``device``
    (a CPU figure for a CUDA retrain, or the reverse) says nothing about this one: None.

    Args:
        metrics: the model version's recorded metrics.
        n_retain: examples in the retain set.
        device: where the retrain would run (``"auto"`` resolves as the retrain resolves it);
            None skips the device check.

    Returns:
        The estimate in seconds, or None when the metrics hold no usable figure.
    """
    if metrics.get("retrain_estimate_s"):
        return float(metrics["retrain_estimate_s"])
    t, n = metrics.get("train_time_s"), metrics.get("n_train")
    if not t or not n:
        return None
    recorded_on = metrics.get("device")
    if device is not None and isinstance(recorded_on, str) and recorded_on:
        try:
            recorded_type = torch.device(recorded_on).type
        except RuntimeError:
            return None
        if recorded_type != resolve_device(device).type:
            return None
    return float(t) * n_retain / float(n)


def retrain_time_s(
    *,
    metrics: Mapping[str, Any],
    model: nn.Module,
    retain: FaceTensors,
    train_config: TrainConfig | None,
    device: str | torch.device = "auto",
    probe_below_s: float = PROBE_BELOW_S,
    clock: Callable[[], float] = time.perf_counter,
) -> float | None:
    """The batch job's retrain estimate: the recorded figure when it applies here, else a probe.

    A recorded figure under ``probe_below_s`` is probed instead: a training that short is dominated
    by its process's one-off start-up (loading and initialising kernels, about 0.3 s on a CPU), which
    its recorded time includes and a retrain in a warm process does not pay, while the probe then
    costs well under a second. A longer record is kept: it averages a whole training's machine load,
    where a probe sees a few seconds of it.

    Args:
        metrics: the deployed version's recorded metrics (:func:`recorded_retrain_time_s`).
        model: the deployed model (the probe trains a copy).
        retain: the retain set.
        train_config: its training configuration; None (imported weights) allows no probe.
        device: where the retrain would run.
        probe_below_s: probe instead of a recorded figure shorter than this (seconds).
        clock: the probe's clock (see :func:`estimate_retrain_time_s`).

    Returns:
        Seconds, or None when neither figure can be had (no fractional budget then).
    """
    recorded = recorded_retrain_time_s(metrics, len(retain), device=device)
    if train_config is None or (recorded is not None and recorded >= probe_below_s):
        return recorded
    try:
        return estimate_retrain_time_s(model, retain, train_config=train_config, device=device, clock=clock)
    except InputError:  # a retain set this configuration cannot train on: the retrain could not either
        return recorded
