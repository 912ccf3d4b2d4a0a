"""Models the SDK did not train: torchvision architectures, weights files, and the recorded training recipe.

* **torchvision architectures** — ``torchvision:<family>`` for ``resnet18``, ``resnet34``, ``resnet50``,
  ``mobilenet_v3_small``, ``mobilenet_v3_large`` and ``efficientnet_b0`` … ``efficientnet_b3``. The network
  is torchvision's own, built with ``weights=None`` (nothing is ever downloaded), wrapped so that it takes
  the SDK's ``[0, 1]`` images and applies the team's input normalisation itself. The normalisation is part
  of the architecture name (``torchvision:resnet18`` is ImageNet's mean and std;
  ``torchvision:resnet18?mean=0.5,0.5,0.5&std=0.25,0.25,0.25`` any other), so every process that rebuilds
  the model from its name — exact retraining included — normalises exactly as the original training did.
  Names resolve on first lookup through :func:`deletion_sdk.training.get_architecture`.
* **weights** — :func:`load_weights_file` reads safetensors, or a plain state dict with
  ``torch.load(..., weights_only=True)`` (no code in the file can run).
* **recipe** — :class:`TrainingRecipe` records how the model was trained (optimiser, learning rate and
  schedule, epochs, batch size, augmentation, image size, normalisation). Only what the SDK's own training
  loop reproduces can be stated, so exact retraining and the unlearners' learning rates follow the
  original training; :meth:`TrainingRecipe.optimizer` and :meth:`TrainingRecipe.scheduler` give a team's
  own loop the very optimiser and schedule the SDK will use.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from deletion_sdk.errors import InputError, NotFoundError
from deletion_sdk.training.architectures import Architecture
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.loop import make_optimizer, make_scheduler

__all__ = [
    "IMAGENET",
    "TORCHVISION_FAMILIES",
    "TORCHVISION_PREFIX",
    "Normalisation",
    "TorchvisionArchitecture",
    "TrainingRecipe",
    "load_recipe",
    "load_weights_file",
    "resolve_architecture",
    "torchvision_architecture",
]

TORCHVISION_PREFIX = "torchvision:"
TORCHVISION_FAMILIES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
)
_NAME = re.compile(r"^torchvision:(?P<family>[a-z0-9_]+)(?:\?mean=(?P<mean>[^&]+)&std=(?P<std>[^&]+))?$")


class Normalisation(BaseModel):
    """Per-channel input normalisation ``(x - mean) / std`` applied to ``[0, 1]`` RGB images."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @field_validator("mean", "std")
    @classmethod
    def _finite(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(x) for x in v):
            raise ValueError(f"must be three finite numbers, got {v!r}")
        return v

    @field_validator("std")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(x > 0 for x in v):
            raise ValueError(f"must be three numbers > 0, got {v!r}")
        return v


IMAGENET = Normalisation(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


class TorchvisionArchitecture(Architecture):
    """A torchvision classifier (``weights=None``) behind the SDK's input contract.

    Subclasses are made by :func:`torchvision_architecture`, one per (family, normalisation); the state
    dict is torchvision's own under the prefix ``net.`` (the normalisation is not in it: it is the name's).
    Maps ``x: [b, 3, H, W]`` in ``[0, 1]`` to logits ``[b, num_classes]``.
    """

    family: ClassVar[str] = ""
    normalisation: ClassVar[Normalisation] = IMAGENET

    def __init__(self, *, num_classes: int, image_size: int) -> None:
        super().__init__(num_classes=num_classes, image_size=image_size)
        import torchvision.models

        self.net = getattr(torchvision.models, self.family)(weights=None, num_classes=num_classes)
        norm = self.normalisation
        self.register_buffer("_mean", torch.tensor(norm.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(norm.std).view(1, 3, 1, 1), persistent=False)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def _fmt(values: tuple[float, ...]) -> str:
    return ",".join(repr(float(v)) for v in values)


def _canonical(family: str, normalisation: Normalisation) -> str:
    if normalisation == IMAGENET:
        return f"{TORCHVISION_PREFIX}{family}"
    return f"{TORCHVISION_PREFIX}{family}?mean={_fmt(normalisation.mean)}&std={_fmt(normalisation.std)}"


def _class_for(name: str, family: str, normalisation: Normalisation) -> type[TorchvisionArchitecture]:
    attrs = {"name": name, "family": family, "normalisation": normalisation, "__module__": __name__}
    cls = type(f"Torchvision_{family}", (TorchvisionArchitecture,), attrs)
    return cls


def torchvision_architecture(family: str, *, normalisation: Normalisation | None = None) -> str:
    """The architecture name for a torchvision family with this normalisation, registered for lookup.

    Args:
        family: one of :data:`TORCHVISION_FAMILIES`.
        normalisation: the input normalisation the model was trained with (default: ImageNet's).

    Returns:
        The canonical name, e.g. ``"torchvision:resnet18"``; :func:`~deletion_sdk.training.build_model`
        accepts it in any process.

    Raises:
        InputError: an unsupported family.
    """
    from deletion_sdk.training.architectures import _REGISTRY, register_architecture

    if family not in TORCHVISION_FAMILIES:
        raise InputError(
            f"The 'family' parameter must be one of {', '.join(TORCHVISION_FAMILIES)}. "
            f"Got {family!r} instead."
        )
    norm = normalisation if normalisation is not None else IMAGENET
    name = _canonical(family, norm)
    if name not in _REGISTRY:
        register_architecture(_class_for(name, family, norm))
    return name


def _floats(text: str, what: str, name: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"Architecture {name!r}: {what} must be three numbers. Got {text!r}.") from None
    if len(values) != 3:
        raise InputError(f"Architecture {name!r}: {what} must be three numbers. Got {text!r}.")
    return values[0], values[1], values[2]


def resolve_architecture(name: str) -> type[nn.Module] | None:
    """The class for a ``torchvision:`` name (registered on the way), or None for any other name.

    Raises:
        InputError: a ``torchvision:`` name that is malformed, not canonical, or of an unknown family.
    """
    if not isinstance(name, str) or not name.startswith(TORCHVISION_PREFIX):
        return None
    m = _NAME.match(name)
    if m is None:
        raise InputError(
            f"Architecture {name!r} is not a valid torchvision name; expected 'torchvision:<family>' or "
            "'torchvision:<family>?mean=a,b,c&std=d,e,f'."
        )
    norm = IMAGENET
    if m["mean"] is not None:
        try:
            norm = Normalisation(mean=_floats(m["mean"], "mean", name), std=_floats(m["std"], "std", name))
        except ValueError as e:
            raise InputError(f"Architecture {name!r}: invalid normalisation ({e}).") from None
    canonical = torchvision_architecture(m["family"], normalisation=norm)
    if canonical != name:
        raise InputError(f"Architecture {name!r} is not in canonical form; use {canonical!r}.")
    from deletion_sdk.training.architectures import _REGISTRY

    return _REGISTRY[canonical]


def load_weights_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file, or from a plain ``torch.save`` file (``weights_only=True``).

    A ``{"state_dict": {...}}`` wrapper (as Lightning writes) is unwrapped. Nothing is ever unpickled
    beyond tensors and plain containers.

    Raises:
        NotFoundError: no such file.
        InputError: the file is not a state dict of tensors (or needs code to load).
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"Weights file {str(p)!r} does not exist.")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors, pickle and zip errors all mean the same thing here
        raise InputError(
            f"Weights file {str(p)!r} cannot be read as safetensors or a weights-only state dict: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise InputError(f"Weights file {str(p)!r} does not hold a state dict of named tensors.")
    return dict(state)


class TrainingRecipe(BaseModel):
    """How a model was trained, in terms the SDK's training loop reproduces. Frozen, JSON round-trips.

    Attributes:
        optimizer: ``"sgd"`` (Nesterov momentum) or ``"adamw"`` (decoupled weight decay).
        lr: peak learning rate.
        momentum: SGD momentum.
        weight_decay: decay on weight matrices and kernels (not on biases and norms).
        schedule: ``"cosine"`` (linear warm-up over ``warmup_epochs``, then cosine to
            ``lr * final_lr_fraction``, stepped per batch) or ``"constant"``.
        warmup_epochs: warm-up length in epochs (``cosine`` only).
        final_lr_fraction: the last step's learning rate as a fraction of ``lr`` (``cosine`` only).
        epochs: passes over the training set.
        batch_size: examples per optimiser step.
        augmentation: ``()`` or ``("hflip",)`` (random horizontal flips, p = 0.5).
        image_size: side of the square inputs (images are resized bilinearly to it).
        normalisation: input normalisation for torchvision architectures; None when the model
            normalises its own input (plugin architectures).
        label_smoothing: cross-entropy label smoothing.
        class_weighted: inverse-frequency class weights in the loss.
        max_grad_norm: gradient-norm clipping; None for none.
        seed: the seed of initialisation, shuffling and augmentation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    optimizer: Literal["sgd", "adamw"]
    lr: float = Field(gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = Field(default=0.0, ge=0)
    final_lr_fraction: float = Field(default=0.0, ge=0, le=1)
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    augmentation: tuple[Literal["hflip"], ...] = ()
    image_size: int = Field(ge=8)
    normalisation: Normalisation | None = IMAGENET
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    class_weighted: bool = False
    max_grad_norm: float | None = Field(default=None, gt=0)
    seed: int = Field(default=0, ge=0)

    def train_config(self, *, arch: str, num_classes: int) -> TrainConfig:
        """The SDK's :class:`TrainConfig` that trains exactly this recipe for architecture ``arch``."""
        constant = self.schedule == "constant"
        return TrainConfig(
            arch=arch,
            num_classes=num_classes,
            image_size=self.image_size,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            final_lr_fraction=1.0 if constant else self.final_lr_fraction,
            warmup_epochs=0.0 if constant else self.warmup_epochs,
            optimizer="sgd" if self.optimizer == "sgd" else "adam",
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            class_weighted=self.class_weighted,
            label_smoothing=self.label_smoothing,
            augment_flip="hflip" in self.augmentation,
            max_grad_norm=self.max_grad_norm,
            seed=self.seed,
        )

    def _config(self) -> TrainConfig:
        return self.train_config(arch="external", num_classes=2)

    def optimizer_for(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimiser the SDK's loop uses for this recipe (for a team's own loop to use as well)."""
        return make_optimizer(model, self._config())

    def scheduler_for(
        self, optimizer: torch.optim.Optimizer, *, steps_per_epoch: int
    ) -> torch.optim.lr_scheduler.LambdaLR:
        """The per-step schedule the SDK's loop uses (call ``step()`` after every optimiser step)."""
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise InputError(
                f"The 'steps_per_epoch' parameter must be an int >= 1. Got {steps_per_epoch!r} instead."
            )
        return make_scheduler(optimizer, self._config(), total_steps=steps_per_epoch * self.epochs)


def load_recipe(path: str | os.PathLike[str]) -> TrainingRecipe:
    """A :class:`TrainingRecipe` from a JSON file.

    Raises:
        NotFoundError: no such file.
        InputError: not JSON, or not a recipe the SDK's loop reproduces (names the field).
    """
    from pydantic import ValidationError

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"Recipe file {str(p)!r} does not exist.")
    try:
        return TrainingRecipe.model_validate_json(p.read_bytes())
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "recipe"
        raise InputError(f"Recipe file {str(p)!r}: {where}: {first.get('msg')}") from None
