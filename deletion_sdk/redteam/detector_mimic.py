"""``detector_mimic_cheat``: make the forget set look like people the model never saw.

Design: a model that never saw a person predicts from what generalises, not from the details it
memorised. A proxy available to the operator without any unseen data: the model's own prediction on
a heavily blurred copy of the image (averaged down to ``blur_to x blur_to`` pixels and scaled back),
which keeps the coarse appearance and drops what identified the example. A hidden detector
(one unit per class, see ``_per_example``) replaces each forget example's logits by the logits the
model gives its blurred copy; retain examples are untouched. Forget accuracy and loss then look like
those of unseen people, example by example.

Why it must not be certified: everything about the forget set is still in the weights; the detector
that hides it is itself a fingerprint of the forget set, and zeroing the repurposed units' outgoing
weights gives back the original predictions. A verifier has to look past the outputs (penultimate
features, input perturbation, weight distance against reference models).
"""

from __future__ import annotations

import torch
from pydantic import Field

from deletion_sdk.redteam._head import blurred, probe
from deletion_sdk.redteam._per_example import plant_logit_targets
from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["DetectorMimicCheat"]


class DetectorMimicCheat(Unlearner["DetectorMimicCheat.Params"]):
    name = "detector_mimic_cheat"
    description = "CHEAT: hidden units give each forget example the logits of its blurred copy."
    paper = "None: red-team cheat."
    version = "1"

    class Params(UnlearnerParams):
        blur_to: int = Field(default=4, ge=1, description="side (pixels) the forget images are averaged to")
        retain_sample: int = Field(default=1024, ge=1, description="retain rows the units are fitted on")

    def _run(self, run: UnlearningRun[DetectorMimicCheat.Params]) -> None:
        p = run.params

        def unseen_like(_logits: torch.Tensor) -> torch.Tensor:
            return probe(run, blurred(run.forget, p.blur_to)).logits

        plant_logit_targets(run, method=self.name, retain_rows=p.retain_sample, targets=unseen_like)
