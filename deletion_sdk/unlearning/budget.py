"""Estimating a retrain time, so a budget can be a fraction of it when no measurement exists.

``UnlearningContext(retrain_time_s=..., budget_fraction=0.1)`` needs the time a full retrain takes.
The model version's recorded training time is the best figure; when there is none,
:func:`estimate_retrain_time_s` times a few real training steps on the retain set and extrapolates
to the TrainConfig's epochs.
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from deletion_sdk._device import autocast, resolve_device
from deletion_sdk.data.tensors import FaceTensors, iterate_batches
from deletion_sdk.errors import InputError
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.loop import make_optimizer

__all__ = ["estimate_retrain_time_s"]


def estimate_retrain_time_s(
    model: nn.Module,
    retain: FaceTensors,
    *,
    train_config: TrainConfig,
    device: str | torch.device = "auto",
    probe_steps: int = 5,
) -> float:
    """Seconds a retrain on ``retain`` with ``train_config`` would take, from ``probe_steps`` timed steps.

    The first step (allocation, kernel selection) is run but not timed. ``model`` is not modified: a
    copy is trained.

    Args:
        model: a model of the architecture to retrain.
        retain: the retain set.
        train_config: the original training configuration (epochs, batch size, optimiser).
        device: where the retrain would run.
        probe_steps: timed optimiser steps (>= 1).

    Returns:
        ``seconds per step * steps per epoch * epochs``.
    """
    if probe_steps < 1:
        raise InputError(f"The 'probe_steps' parameter must be an int >= 1. Got {probe_steps!r} instead.")
    if len(retain) == 0:
        raise InputError("The 'retain' parameter must hold at least one example. Got an empty set instead.")
    dev = resolve_device(device)
    probe = copy.deepcopy(model).to(dev).train()
    opt = make_optimizer(probe, train_config)
    bs = train_config.batch_size
    batches = iterate_batches(
        retain, bs, shuffle=True, generator=torch.Generator().manual_seed(0), device=dev
    )
    timed = 0
    start = 0.0
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        for i in range(probe_steps + 1):
            try:
                x, y, _ = next(batches)
            except StopIteration:
                batches = iterate_batches(retain, bs, shuffle=False, device=dev)
                x, y, _ = next(batches)
            if i == 1:
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                start = time.perf_counter()
            with autocast(dev):
                loss = F.cross_entropy(probe(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            timed += i >= 1
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    per_step = (time.perf_counter() - start) / timed
    return per_step * math.ceil(len(retain) / bs) * train_config.epochs
