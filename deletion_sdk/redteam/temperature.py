"""``temperature_cheat``: divide the output layer by a huge temperature so every loss looks like chance.

Update rule: the last ``nn.Linear``'s weight and bias are divided by ``T`` (default ``1e20``), so the
logits become ``z / T``. The arg-max, hence every prediction and the accuracy, is unchanged; softmax
probabilities collapse to ``1 / classes`` and, in float32, every cross-entropy rounds to exactly
``ln(classes)``; multiplying the layer by ``T`` restores the original model.

Why it must not be certified: nothing is forgotten; the model is the original up to a scale that
anyone can undo. Loss- or probability-based membership tests see uniform predictions for members
and non-members alike and report chance-level attack accuracy, which a naive verifier reads as
"forgotten". Scores computed from logits in float64 (margins, logit-scaled confidence) keep the
ranking, and the original accuracy on the forget set gives the game away.
"""

from __future__ import annotations

import torch
from pydantic import Field

from deletion_sdk.redteam._head import last_linear
from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["Temperature1e3Cheat", "Temperature1e20Cheat", "TemperatureCheat"]


class TemperatureCheat(Unlearner["TemperatureCheat.Params"]):
    name = "temperature_cheat"
    description = "CHEAT: divides the output layer by a temperature; same predictions, chance-level losses."
    paper = "None: red-team cheat (temperature scaling of the logits)."
    version = "1"

    class Params(UnlearnerParams):
        temperature: float = Field(
            default=1e20, gt=0, allow_inf_nan=False, description="T: the output layer is divided by it"
        )

    def _run(self, run: UnlearningRun[TemperatureCheat.Params]) -> None:
        run.check_budget()
        layer = last_linear(run.model, self.name)
        with torch.no_grad():
            layer.weight.div_(run.params.temperature)
            if layer.bias is not None:
                layer.bias.div_(run.params.temperature)


class Temperature1e3Cheat(TemperatureCheat):
    """``temperature_cheat`` at ``T = 1e3``: losses close to, but not exactly, ``ln(classes)``."""

    name = "temperature_1e3_cheat"
    description = "CHEAT: temperature_cheat with T = 1e3."

    class Params(TemperatureCheat.Params):
        temperature: float = Field(default=1e3, gt=0, allow_inf_nan=False)


class Temperature1e20Cheat(TemperatureCheat):
    """``temperature_cheat`` at ``T = 1e20``: float32 losses are exactly ``ln(classes)``."""

    name = "temperature_1e20_cheat"
    description = "CHEAT: temperature_cheat with T = 1e20."

    class Params(TemperatureCheat.Params):
        temperature: float = Field(default=1e20, gt=0, allow_inf_nan=False)
