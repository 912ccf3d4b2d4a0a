"""``retrain``: exact unlearning, retraining from scratch on the retain set.

Update rule: a freshly initialised model of the same architecture is trained on the retain set with
the original :class:`~deletion_sdk.training.TrainConfig` (optimiser, warm-up + cosine schedule,
class weighting, label smoothing, clipping, flips, epochs) by :func:`deletion_sdk.training.train_model`
itself, seeded from the context. The forget set is never seen, so the result is distributed exactly as
a model that never trained on it: the gold standard every other method is measured against (Cao & Yang
2015; Bourtoule et al. 2021). The run's time budget is checked after every optimiser step.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from torch import nn

from deletion_sdk.errors import InputError
from deletion_sdk.training.architectures import build_model
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.loop import train_model
from deletion_sdk.unlearning._run import UnlearningRun
from deletion_sdk.unlearning.base import Unlearner, UnlearnerParams
from deletion_sdk.unlearning.registry import register_unlearner

__all__ = ["Retrain"]


def _fresh_model(run: UnlearningRun[Any], config: TrainConfig) -> nn.Module:
    """``config.arch`` freshly built when it matches the model's state layout, else a re-initialised copy."""
    shapes = {k: tuple(v.shape) for k, v in run.model.state_dict().items()}
    try:
        fresh = build_model(config.arch, num_classes=config.num_classes, image_size=config.image_size)
        if {k: tuple(v.shape) for k, v in fresh.state_dict().items()} == shapes:
            return fresh.to(run.device)
    except InputError:
        pass
    for module in run.model.modules():  # an architecture the registry does not know: reset in place
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    return run.model


@register_unlearner
class Retrain(Unlearner["Retrain.Params"]):
    name = "retrain"
    description = "Exact: retrain from scratch on the retain set with the original training configuration."
    paper = (
        "Cao & Yang. Towards Making Systems Forget with Machine Unlearning. IEEE S&P 2015; "
        "Bourtoule et al. Machine Unlearning. IEEE S&P 2021."
    )
    version = "1"
    exact = True

    class Params(UnlearnerParams):
        epochs: int | None = Field(default=None, ge=1, description="default: the TrainConfig's epochs")

    def _run(self, run: UnlearningRun[Retrain.Params]) -> None:
        p = run.params
        config = run.context.train_config
        if config is None:
            raise InputError(
                "The 'train_config' of the UnlearningContext must be the original TrainConfig for "
                "'retrain'. Got None instead."
            )
        if p.epochs is not None:
            config = config.model_copy(update={"epochs": p.epochs})
        config = config.model_copy(update={"seed": run.context.seed})
        model = _fresh_model(run, config)

        def after_step() -> None:
            run.steps += 1
            run.report()
            run.check_budget()

        run.phase = "retrain"
        result = train_model(run.retain, config=config, device=run.device, model=model, on_step=after_step)
        run.model = result.model
