"""``neggrad_plus``: gradient descent on the retain set and ascent on the forget set, together.

Update rule (Kurmanji et al. 2023, NegGrad+): each step pairs a forget batch with a retain batch and
minimises ``CE(f(x_r), y_r) - alpha * CE(f(x_f), y_f)``. The ascent term is unbounded, so the number
of passes over the (small) forget set and ``alpha`` are kept small; too many steps destroy utility.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field

from deletion_sdk.unlearning._run import UnlearningRun
from deletion_sdk.unlearning.base import Unlearner, UnlearnerParams
from deletion_sdk.unlearning.registry import register_unlearner

__all__ = ["NegGradPlus"]


@register_unlearner
class NegGradPlus(Unlearner["NegGradPlus.Params"]):
    name = "neggrad_plus"
    description = "Descend the retain cross-entropy while ascending the forget cross-entropy (NegGrad+)."
    paper = (
        "Kurmanji, Triantafillou, Hayes, Triantafillou. Towards Unbounded Machine Unlearning. "
        "NeurIPS 2023 (NegGrad+ baseline)."
    )
    version = "1"

    class Params(UnlearnerParams):
        # Defaults: a small grid on the default CPU age predictor (setting and criterion: methods/__init__).
        # Tried alpha -> AUC / holdout: 0.2 0.548 / 0.390; 0.25 0.515 / 0.386; 0.3 0.493 / 0.386.
        epochs: int = Field(
            default=5, ge=1, description="passes over the forget set, each paired with retain batches"
        )
        alpha: float = Field(default=0.25, ge=0, description="weight of the forget-set ascent term")
        lr_scale: float = Field(
            default=0.5, gt=0, description="peak LR as a fraction of the training LR (cosine to 0)"
        )
        batch_size: int | None = Field(default=32, ge=1, description="rows per forget and per retain batch")

    def _run(self, run: UnlearningRun[NegGradPlus.Params]) -> None:
        p = run.params
        run.model.train()
        opt = run.optimizer(p.lr_scale)
        sched = run.cosine(opt, p.epochs * run.steps_per_epoch(run.forget, p.batch_size))
        retain = run.cycle(run.retain, batch_size=p.batch_size)
        for _ in run.epochs(p.epochs, phase="forget+retain"):
            for fb in run.batches(run.forget, batch_size=p.batch_size):
                rb = next(retain)
                loss = F.cross_entropy(run.forward(rb.x), rb.y) - p.alpha * F.cross_entropy(
                    run.forward(fb.x), fb.y
                )
                run.step(loss, opt, scheduler=sched)
