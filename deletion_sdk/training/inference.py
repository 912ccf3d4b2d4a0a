"""Batched inference on the model's device: the one forward loop training metrics, unlearning and
verification share."""

from __future__ import annotations

import torch
from torch import nn

from deletion_sdk._device import autocast, resolve_device
from deletion_sdk.data.tensors import FaceTensors, iterate_batches

__all__ = ["predict_logits"]


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    data: FaceTensors,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 512,
) -> torch.Tensor:
    """Logits of ``model`` on every row of ``data``, in order.

    Args:
        model: a classifier mapping ``[b, 3, H, W]`` to ``[b, classes]``.
        data: the images.
        device: where to run; None uses the device the model's parameters are on.
        batch_size: rows per forward pass.

    Returns:
        float32 ``[n, classes]`` on the CPU. The model's train/eval mode is restored afterwards.
    """
    dev = next(model.parameters()).device if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    chunks: list[torch.Tensor] = []
    try:
        with autocast(dev):
            for x, _y, _idx in iterate_batches(data, batch_size, device=dev):
                if dev.type == "cuda":
                    x = x.contiguous(memory_format=torch.channels_last)
                chunks.append(model(x).float())
    finally:
        model.train(was_training)
    if not chunks:
        return torch.empty(0, 0)
    return torch.cat(chunks).cpu()
