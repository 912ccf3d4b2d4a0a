"""An example third-party unlearner: re-initialise the linear head, then fine-tune it on the retain set.

It uses only deletion_sdk's public API, as a plugin author would.
"""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field
from torch import nn

from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun


class HeadReset(Unlearner):
    name = "head_reset"
    description = "Example plugin: re-initialise every linear layer, then fine-tune on the retain set."
    paper = "Example plugin for the deletion_sdk entry-point test (no paper)."
    version = "0.1.0"

    class Params(UnlearnerParams):
        epochs: int = Field(default=2, ge=1)
        lr_scale: float = Field(default=1.0, gt=0)

    def _run(self, run: UnlearningRun) -> None:
        p = run.params_as(self.Params)
        for module in run.model.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()
        run.model.train()
        opt = run.optimizer(p.lr_scale)
        for _ in run.epochs(p.epochs, phase="retain"):
            for b in run.batches(run.retain):
                run.step(F.cross_entropy(run.forward(b.x), b.y), opt)
