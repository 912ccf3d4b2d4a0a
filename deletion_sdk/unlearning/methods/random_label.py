"""``random_label``: teach the model wrong labels for the forget set while it keeps learning the retain set.

Update rule (Graves et al. 2021, "amnesiac" relabelling; Golatkar et al. 2020): every forget example
gets a fixed random label different from its own; each step minimises
``CE(f(x_r), y_r) + CE(f(x_f), y_random)`` on a retain batch and a forget batch. ``salun`` reuses
this loop with its gradients restricted to a saliency mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from deletion_sdk.unlearning._run import UnlearningRun
from deletion_sdk.unlearning.base import Unlearner, UnlearnerParams
from deletion_sdk.unlearning.registry import register_unlearner

__all__ = ["RandomLabel", "random_label_updates"]


def random_label_updates(
    run: UnlearningRun[Any],
    *,
    epochs: int,
    lr_scale: float,
    forget_weight: float,
    batch_size: int | None,
    retain_batch_size: int | None,
    update_scale: Sequence[tuple[torch.Tensor, torch.Tensor]] = (),
) -> None:
    """``epochs`` passes over the forget set with fixed random wrong labels, paired with retain batches."""
    n_classes = run.num_classes
    shift = torch.randint(1, n_classes, (len(run.forget),), generator=run.generator)
    wrong = ((run.forget.labels + shift) % n_classes).to(run.device)  # [n_forget], never the true label
    run.model.train()
    opt = run.optimizer(lr_scale, weight_decay=not update_scale)
    sched = run.cosine(opt, epochs * run.steps_per_epoch(run.forget, batch_size))
    retain = run.cycle(run.retain, batch_size=retain_batch_size)
    for _ in run.epochs(epochs, phase="random-label"):
        for fb in run.batches(run.forget, batch_size=batch_size):
            rb = next(retain)
            y_wrong = wrong[fb.positions.to(run.device)]
            loss = F.cross_entropy(run.forward(rb.x), rb.y) + forget_weight * F.cross_entropy(
                run.forward(fb.x), y_wrong
            )
            run.step(loss, opt, scheduler=sched, update_scale=update_scale)


@register_unlearner
class RandomLabel(Unlearner["RandomLabel.Params"]):
    name = "random_label"
    description = "Train on the forget set with random wrong labels, interleaved with the retain set."
    paper = (
        "Graves, Nagisetty, Ganesh. Amnesiac Machine Learning. AAAI 2021; Golatkar, Achille, Soatto. "
        "Eternal Sunshine of the Spotless Net. CVPR 2020."
    )
    version = "1"

    class Params(UnlearnerParams):
        # Defaults: a small grid on the default CPU age predictor (setting and criterion: methods/__init__).
        # Tried lr_scale -> AUC / holdout: 0.03 0.698 / 0.380; 0.1 0.626 / 0.286; 0.2 0.564 / 0.239;
        # 0.5 0.455 / 0.209 (0.03 and 0.5 with retain batches of 32). No setting forgets without
        # destroying utility on this model.
        epochs: int = Field(default=5, ge=1, description="passes over the forget set")
        lr_scale: float = Field(
            default=0.2, gt=0, description="peak LR as a fraction of the training LR (cosine to 0)"
        )
        forget_weight: float = Field(default=1.0, ge=0, description="weight of the random-label loss")
        batch_size: int | None = Field(default=32, ge=1, description="rows per forget batch")
        retain_batch_size: int | None = Field(
            default=None, ge=1, description="default: the TrainConfig's batch size"
        )

    def _run(self, run: UnlearningRun[RandomLabel.Params]) -> None:
        p = run.params
        random_label_updates(
            run,
            epochs=p.epochs,
            lr_scale=p.lr_scale,
            forget_weight=p.forget_weight,
            batch_size=p.batch_size,
            retain_batch_size=p.retain_batch_size,
        )
