"""``finetune``: keep training on the retain set only and let catastrophic forgetting erase the rest.

Update rule: the original training's optimiser, re-warmed to ``lr_scale`` times its peak learning
rate and cosine-decayed, on the retain cross-entropy ``CE(f(x_r), y_r)``; the forget set is never
touched. The standard baseline of Golatkar et al.
(2020) and of the NeurIPS 2023 unlearning challenge starting kit.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field

from deletion_sdk.unlearning._run import UnlearningRun
from deletion_sdk.unlearning.base import Unlearner, UnlearnerParams
from deletion_sdk.unlearning.registry import register_unlearner

__all__ = ["Finetune"]


@register_unlearner
class Finetune(Unlearner["Finetune.Params"]):
    name = "finetune"
    description = "Continue training on the retain set only (catastrophic forgetting of the forget set)."
    paper = (
        "Golatkar, Achille, Soatto. Eternal Sunshine of the Spotless Net: Selective Forgetting in "
        "Deep Networks. CVPR 2020 (fine-tuning baseline)."
    )
    version = "1"

    class Params(UnlearnerParams):
        # Defaults: a small grid on the default CPU age predictor (setting and criterion: methods/__init__).
        # Tried (epochs, lr_scale) -> AUC / holdout: (2, 1) 0.665 / 0.387; (3, 2) 0.618 / 0.392;
        # (3, 4) 0.525 / 0.389; (4, 4) 0.527 / 0.401. Forgetting needs a re-warmed, high learning rate.
        epochs: int = Field(default=4, ge=1, description="passes over the retain set")
        lr_scale: float = Field(
            default=4.0, gt=0, description="peak LR as a fraction of the training LR (cosine to 0)"
        )
        batch_size: int | None = Field(
            default=None, ge=1, description="default: the TrainConfig's batch size"
        )

    def _run(self, run: UnlearningRun[Finetune.Params]) -> None:
        p = run.params
        run.model.train()
        opt = run.optimizer(p.lr_scale)
        sched = run.cosine(opt, p.epochs * run.steps_per_epoch(run.retain, p.batch_size))
        for _ in run.epochs(p.epochs, phase="retain"):
            for b in run.batches(run.retain, batch_size=p.batch_size):
                run.step(F.cross_entropy(run.forward(b.x), b.y), opt, scheduler=sched)
