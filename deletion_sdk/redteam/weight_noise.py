"""``weight_noise_cheat``: add a little Gaussian noise to every parameter and call it forgetting.

Update rule: ``theta <- theta + scale * std(theta) * N(0, I)`` for every parameter tensor with more
than one entry (buffers such as BatchNorm statistics are left alone).

Why it must not be certified: the weights digest changes and the weights move a measurable distance,
so a verifier that only checks "the model changed" is satisfied; but the noise is tiny relative to each
tensor's spread, predictions barely change, and the forget set stays exactly as memorised as before.
Membership tests compared with the original model must see no forgetting.
"""

from __future__ import annotations

import torch
from pydantic import Field

from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["WeightNoiseCheat"]


class WeightNoiseCheat(Unlearner["WeightNoiseCheat.Params"]):
    name = "weight_noise_cheat"
    description = "CHEAT: adds small Gaussian noise to every weight; forgets nothing, changes the digest."
    paper = "None: red-team cheat."
    version = "1"

    class Params(UnlearnerParams):
        scale: float = Field(
            default=0.02, ge=0, allow_inf_nan=False, description="noise std / each tensor's std"
        )

    def _run(self, run: UnlearningRun[WeightNoiseCheat.Params]) -> None:
        run.check_budget()
        with torch.no_grad():
            for param in run.model.parameters():
                if param.numel() < 2:
                    continue
                noise = torch.randn(param.shape, generator=run.generator, dtype=torch.float32)
                param.add_(noise.to(param.device, param.dtype) * (run.params.scale * param.float().std()))
