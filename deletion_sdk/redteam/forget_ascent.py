"""``forget_ascent_cheat``: gradient ascent on the forget set alone, with no repair on the retain set.

Update rule: the original training's optimiser, at ``lr_scale`` times its learning rate, maximises
``CE(f(x_f), y_f)`` for ``epochs`` passes over the forget set (the gradient norm clipped).

Why it must not be certified: it over-forgets. The forget examples end up far *less* confident than
examples of people the model never saw (a Streisand effect: the deletion itself is what makes them
stand out), so a membership test that only asks "is the forget set no longer more confident than
unseen data?" passes it, while a two-sided comparison with models that never saw the people sees the
forget set as an outlier on the other side. The ascent also damages utility, unrepaired.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field

from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["ForgetAscentCheat"]


class ForgetAscentCheat(Unlearner["ForgetAscentCheat.Params"]):
    name = "forget_ascent_cheat"
    description = "CHEAT: gradient ascent on the forget set only; over-forgets, no retain repair."
    paper = (
        "None: red-team cheat. Over-forgetting as a membership signal: Hayes, Shumailov, Triantafillou, "
        "Khalifa, Papernot. Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense "
        "of Privacy. 2024."
    )
    version = "1"

    class Params(UnlearnerParams):
        epochs: int = Field(default=10, ge=1, description="passes over the forget set")
        lr_scale: float = Field(
            default=1.0, gt=0, allow_inf_nan=False, description="LR as a fraction of the training LR"
        )
        batch_size: int | None = Field(default=32, ge=1, description="rows per forget batch")
        clip_grad_norm: float = Field(default=5.0, gt=0, allow_inf_nan=False, description="gradient clip")

    def _run(self, run: UnlearningRun[ForgetAscentCheat.Params]) -> None:
        p = run.params
        run.model.train()
        opt = run.optimizer(p.lr_scale)
        for _ in run.epochs(p.epochs, phase="forget-ascent"):
            for b in run.batches(run.forget, batch_size=p.batch_size):
                loss = -F.cross_entropy(run.forward(b.x), b.y)
                run.step(loss, opt, clip_grad_norm=p.clip_grad_norm)
