"""The training configuration: one frozen model whose defaults are the default CPU setting.

The defaults train ``tiny_cnn`` on about 10,000 synthetic 32×32 faces in a few minutes on two CPU
cores, reach a holdout accuracy far above chance, and deliberately leave a membership signal
(little regularisation, no augmentation): unlearning has something to remove only if the model
memorised its training people. See ``benchmarks/training_throughput.py`` for the measured figures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TrainConfig"]


class TrainConfig(BaseModel):
    """How to train an age predictor. Frozen; ``model_dump_json`` / ``model_validate_json`` round-trip.

    Attributes:
        arch: registered architecture name (``tiny_cnn``, ``resnet18``, …).
        num_classes: number of age groups.
        image_size: side of the square input images.
        epochs: passes over the training set.
        batch_size: examples per optimiser step.
        lr: peak learning rate (cosine-annealed to ``lr * final_lr_fraction`` over all steps).
        final_lr_fraction: learning rate at the last step, as a fraction of ``lr``.
        warmup_epochs: linear warm-up length (fractional epochs allowed) before the cosine decay.
        optimizer: ``"sgd"`` (with momentum, Nesterov) or ``"adam"`` (AdamW-style decoupled decay).
        momentum: SGD momentum (ignored by Adam).
        weight_decay: L2 / decoupled weight decay.
        class_weighted: weight the cross-entropy by inverse training-label frequency.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        augment_flip: random horizontal flips (off by default: they weaken memorisation).
        max_grad_norm: clip the gradient norm to this value; None disables clipping.
        seed: seeds initialisation, shuffling and augmentation (bit-identical weights on CPU).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    arch: str = "tiny_cnn"
    num_classes: int = Field(default=10, ge=2)
    image_size: int = Field(default=32, ge=8)
    epochs: int = Field(default=16, ge=1)
    batch_size: int = Field(default=128, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    final_lr_fraction: float = Field(default=0.0, ge=0, le=1)
    warmup_epochs: float = Field(default=0.0, ge=0)
    optimizer: Literal["sgd", "adam"] = "adam"
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    class_weighted: bool = False
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    augment_flip: bool = False
    max_grad_norm: float | None = Field(default=None, gt=0)
    seed: int = 0
