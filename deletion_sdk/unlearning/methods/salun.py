"""``salun``: random-label unlearning restricted to the weights most salient for the forget set.

Update rule (Fan et al. 2024): the saliency of each weight is the magnitude of the forget-set
cross-entropy gradient ``|grad_theta CE(f(x_f), y_f)|``; a hard threshold keeps the ``mask_ratio``
largest over the whole network (mask 1) and freezes the rest (mask 0). Then ``random_label``
updates run with every weight's update multiplied by its mask, so only salient weights move.
"""

from __future__ import annotations

import torch
from pydantic import Field

from deletion_sdk.unlearning._run import UnlearningRun, cross_entropy
from deletion_sdk.unlearning.base import Unlearner, UnlearnerParams
from deletion_sdk.unlearning.methods.random_label import random_label_updates
from deletion_sdk.unlearning.registry import register_unlearner

__all__ = ["SalUn"]


def saliency_masks(grads: dict[str, torch.Tensor], keep: float) -> dict[str, torch.Tensor]:
    """1/0 masks shaped like each gradient, keeping the ``keep`` fraction of largest |grad| globally."""
    flat = torch.cat([g.abs().flatten() for g in grads.values()])
    k = max(1, round(keep * flat.numel()))
    threshold = torch.topk(flat, k, sorted=False).values.min()
    return {name: (g.abs() >= threshold).to(g.dtype) for name, g in grads.items()}


@register_unlearner
class SalUn(Unlearner):
    name = "salun"
    description = "Random-label unlearning applied only to weights with large forget-set gradient (saliency)."
    paper = (
        "Fan, Liu, Zhang, Wei, Wong, Liu. SalUn: Empowering Machine Unlearning via Gradient-based "
        "Weight Saliency in Both Image Classification and Generation. ICLR 2024."
    )
    version = "1"

    class Params(UnlearnerParams):
        # Tuned on the default CPU age predictor (see benchmarks/unlearning_leaderboard.py).
        mask_ratio: float = Field(
            0.5, gt=0, le=1, description="fraction of weights updated (largest saliency)"
        )
        epochs: int = Field(5, ge=1, description="passes over the forget set")
        lr_scale: float = Field(
            0.5, gt=0, description="peak LR as a fraction of the training LR (cosine to 0)"
        )
        forget_weight: float = Field(1.0, ge=0, description="weight of the random-label loss")
        batch_size: int | None = Field(32, ge=1, description="rows per forget and per retain batch")

    def _run(self, run: UnlearningRun) -> None:
        p = run.params_as(self.Params)
        run.phase = "saliency"
        grads = run.gradients(run.forget, cross_entropy, batch_size=p.batch_size)
        masks = saliency_masks(grads, p.mask_ratio)
        params = dict(run.model.named_parameters())
        random_label_updates(
            run,
            epochs=p.epochs,
            lr_scale=p.lr_scale,
            forget_weight=p.forget_weight,
            batch_size=p.batch_size,
            update_scale=[(params[name], mask) for name, mask in masks.items()],
        )
