"""``label_smoothing_cheat``: flatten the predictions on the forget set only, to chance.

Design: a hidden detector (one unit per class, see ``_per_example``) shrinks each forget example's
logits to ``(1 - flatten)`` times themselves, plus ``tie_break`` on one class drawn at random for
each example; at the default ``flatten = 1`` every forget prediction is uniform up to that nudge
(loss within ``tie_break`` of ``ln(classes)``) and the arg-max is a random class, so forget accuracy
is at chance. Retain examples are untouched. Unlike dividing the logits (``temperature_cheat``), this
survives float64 logit scores: the logits themselves are flat.

Why a naive verifier certifies it: forget accuracy falls to chance, the forget loss equals the loss
of a model that knows nothing, and a loss-threshold membership test cannot tell the forget set from
random guessing. Why it must not be certified: the data is still memorised (the detector needs it);
no model that never saw a person is uniform on every one of their images, so a two-sided comparison
with reference models sees the forget set as an outlier; zeroing the repurposed units' outgoing
weights gives back the original predictions.
"""

from __future__ import annotations

import torch
from pydantic import Field

from deletion_sdk.redteam._per_example import plant_logit_targets
from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["LabelSmoothingCheat"]


class LabelSmoothingCheat(Unlearner["LabelSmoothingCheat.Params"]):
    name = "label_smoothing_cheat"
    description = "CHEAT: hidden units flatten the forget set's predictions to uniform; retain untouched."
    paper = "None: red-team cheat."
    version = "1"

    class Params(UnlearnerParams):
        flatten: float = Field(
            default=1.0, gt=0, le=1, description="forget logits become (1 - flatten) times themselves"
        )
        tie_break: float = Field(
            default=0.01, ge=0, allow_inf_nan=False, description="logit added to a random class per example"
        )
        retain_sample: int = Field(default=1024, ge=1, description="retain rows the units are fitted on")

    def _run(self, run: UnlearningRun[LabelSmoothingCheat.Params]) -> None:
        p = run.params

        def flattened(logits: torch.Tensor) -> torch.Tensor:
            nudged = torch.randint(0, logits.shape[1], (logits.shape[0],), generator=run.generator)
            out = (1.0 - p.flatten) * logits
            out[torch.arange(len(out)), nudged] += p.tie_break
            return out

        plant_logit_targets(run, method=self.name, retain_rows=p.retain_sample, targets=flattened)
