"""``bad_teacher``: distil a competent teacher on retain data and an incompetent one on forget data.

Update rule (Chundawat et al. 2023): the competent teacher is the frozen original model, the
incompetent teacher a randomly initialised copy. On a shuffled mix of the forget set and a random
``retain_fraction`` of the retain set, the student (a copy of the original) minimises
``KL(teacher(x) || student(x))`` at temperature ``T``, where the teacher is the incompetent one for
forget rows and the competent one for retain rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.unlearning._run import UnlearningRun, concat
from deletion_sdk.unlearning.base import Unlearner, UnlearnerParams
from deletion_sdk.unlearning.registry import register_unlearner

__all__ = ["BadTeacher"]


@register_unlearner
class BadTeacher(Unlearner["BadTeacher.Params"]):
    name = "bad_teacher"
    description = (
        "Student distils the original on retain rows and a random-init 'bad teacher' on forget rows."
    )
    paper = (
        "Chundawat, Tarun, Mandal, Kankanhalli. Can Bad Teaching Induce Forgetting? Unlearning in Deep "
        "Networks Using an Incompetent Teacher. AAAI 2023."
    )
    version = "1"

    class Params(UnlearnerParams):
        # Defaults: a small grid on the default CPU age predictor (setting and criterion: methods/__init__).
        # Tried (epochs, lr_scale) -> AUC / holdout: (1, 0.05) 0.696 / 0.389; (1, 0.5) 0.602 / 0.377;
        # (2, 1.0) 0.525 / 0.383.
        epochs: int = Field(default=2, ge=1, description="passes over the forget + retain-subset mix")
        retain_fraction: float = Field(
            default=0.3, gt=0, le=1, description="share of the retain set mixed in"
        )
        lr_scale: float = Field(
            default=1.0, gt=0, description="LR as a fraction of the training LR (paper: Adam 1e-4)"
        )
        temperature: float = Field(default=1.0, gt=0)
        batch_size: int | None = Field(
            default=None, ge=1, description="default: the TrainConfig's batch size"
        )

    def _run(self, run: UnlearningRun[BadTeacher.Params]) -> None:
        p = run.params
        good = run.teacher()
        bad = run.teacher()
        for module in bad.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
        k = max(1, round(p.retain_fraction * len(run.retain)))
        subset = run.retain.take(torch.randperm(len(run.retain), generator=run.generator)[:k])
        mixed = concat(run.forget, subset)
        # The "label" of a mixed row says which teacher it follows: 1 = forget (bad), 0 = retain (good).
        flags = torch.cat([torch.ones(len(run.forget)), torch.zeros(k)]).long()
        mixed = FaceTensors(images=mixed.images, labels=flags, ages=mixed.ages, example_ids=mixed.example_ids)
        run.model.train()
        opt = run.optimizer(p.lr_scale)
        t = p.temperature
        for _ in run.epochs(p.epochs, phase="distil"):
            for b in run.batches(mixed, batch_size=p.batch_size):
                with torch.no_grad():
                    target = torch.where(
                        b.y.view(-1, 1).bool(),
                        F.softmax(run.forward(b.x, model=bad) / t, -1),
                        F.softmax(run.forward(b.x, model=good) / t, -1),
                    )
                log_p = F.log_softmax(run.forward(b.x) / t, -1)
                run.step(F.kl_div(log_p, target, reduction="batchmean"), opt)
