"""Age-predictor architectures and their registry.

Every architecture is an ``nn.Module`` subclass with a class attribute ``name`` and a keyword-only
constructor ``(*, num_classes, image_size)``. It maps float images ``[b, 3, H, W]`` in ``[0, 1]`` to
logits ``[b, num_classes]``; input normalisation happens inside the model, so every caller feeds
the same ``[0, 1]`` tensors.

Registered here:

* ``tiny_cnn`` — three conv/BN/ReLU/max-pool blocks and a two-layer head; fast on CPU and with
  enough capacity in its head to memorise a training set (which is what gives unlearning something
  to remove).
* ``resnet18`` — torchvision's ResNet-18 (``weights=None``) with the usual small-image stem
  (3×3 convolution, stride 1, no max-pool), the NeurIPS 2023 unlearning challenge's model.

Third-party architectures register with :func:`register_architecture` or through the entry-point
group ``deletion_sdk.architectures`` (loaded on the first lookup). torchvision classifiers are looked up
as ``torchvision:<family>`` names (:mod:`deletion_sdk.training.external`), registered on first use.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import ClassVar

import torch
from torch import nn

from deletion_sdk.errors import InputError, RegistryError

__all__ = [
    "Architecture",
    "ResNet18",
    "TinyCNN",
    "available_architectures",
    "build_model",
    "get_architecture",
    "register_architecture",
    "unregister_architecture",
]

ENTRY_POINT_GROUP = "deletion_sdk.architectures"

# Per-channel statistics used by the in-model normalisation (roughly those of face crops).
_MEAN = (0.5, 0.45, 0.42)
_STD = (0.25, 0.24, 0.24)

_REGISTRY: dict[str, type[Architecture]] = {}
_entry_points_loaded = False


class Architecture(nn.Module):
    """Base class: stores the configuration, normalises the input, delegates to :meth:`features`.

    Subclasses set ``name`` and implement ``_forward(x)`` on normalised input.
    """

    name: ClassVar[str] = ""

    def __init__(self, *, num_classes: int, image_size: int) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise InputError(f"The 'num_classes' parameter must be an int >= 2. Got {num_classes!r} instead.")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
            raise InputError(f"The 'image_size' parameter must be an int >= 8. Got {image_size!r} instead.")
        self.num_classes = num_classes
        self.image_size = image_size
        self.register_buffer("_mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    _mean: torch.Tensor
    _std: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[b, num_classes]`` of images ``x: [b, 3, H, W]`` in ``[0, 1]``."""
        return self._forward((x - self._mean) / self._std)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class TinyCNN(Architecture):
    """Three conv blocks (24, 48, 96 channels, each halving the resolution), pooled to 4×4,
    then ``Linear(1536, 256) -> ReLU -> Linear(256, classes)``. About 0.45 M parameters, most of them
    in the head, which is what lets it memorise its training people."""

    name: ClassVar[str] = "tiny_cnn"

    def __init__(self, *, num_classes: int, image_size: int, width: int = 24, hidden: int = 256) -> None:
        super().__init__(num_classes=num_classes, image_size=image_size)
        self.features = nn.Sequential(
            _block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width)
        )
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(4 * width * 16, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


class ResNet18(Architecture):
    """torchvision ResNet-18 (``weights=None``) with a small-image stem: 3×3 conv, stride 1, no max-pool."""

    name: ClassVar[str] = "resnet18"

    def __init__(self, *, num_classes: int, image_size: int) -> None:
        super().__init__(num_classes=num_classes, image_size=image_size)
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=num_classes)
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()  # type: ignore[assignment]
        self.net = net

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if getattr(cls, "name", None) not in _REGISTRY:
            register_architecture(cls)


def register_architecture(cls: type[Architecture], *, force: bool = False) -> type[Architecture]:
    """Register an architecture class under its own ``name`` (usable as a class decorator).

    Args:
        cls: an ``nn.Module`` subclass with a non-empty string ``name`` and a
            ``(*, num_classes, image_size)`` constructor.
        force: replace an architecture already registered under that name.

    Returns:
        ``cls``, unchanged.

    Raises:
        RegistryError: ``cls`` has no usable name, or the name is taken and ``force`` is False.
    """
    name = getattr(cls, "name", None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise RegistryError(f"The 'cls' parameter must be an nn.Module subclass. Got {cls!r} instead.")
    if not isinstance(name, str) or not name:
        raise RegistryError(f"The 'cls' parameter must have a non-empty string 'name'. Got {name!r} instead.")
    if name in _REGISTRY and not force:
        raise RegistryError(
            f"An architecture named {name!r} is already registered ({_REGISTRY[name].__qualname__}); "
            f"pass force=True to replace it. Registered: {', '.join(sorted(_REGISTRY))}."
        )
    _REGISTRY[name] = cls
    return cls


def unregister_architecture(name: str) -> None:
    """Remove a registered architecture.

    Raises:
        RegistryError: nothing is registered under ``name``.
    """
    if name not in _REGISTRY:
        raise RegistryError(_unknown(name))
    del _REGISTRY[name]


def available_architectures() -> tuple[str, ...]:
    """The registered architecture names, sorted."""
    _load_entry_points()
    return tuple(sorted(_REGISTRY))


def get_architecture(name: str) -> type[Architecture]:
    """The class registered under ``name``.

    Raises:
        RegistryError: no such architecture (the message lists the registered ones).
    """
    _load_entry_points()
    if name not in _REGISTRY:
        from deletion_sdk.training.external import resolve_architecture  # torchvision:<family>[?…] names

        resolve_architecture(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RegistryError(_unknown(name)) from None


def _unknown(name: str) -> str:
    return f"Unknown architecture {name!r}. Registered: {', '.join(sorted(_REGISTRY)) or '(none)'}."


def build_model(arch: str, *, num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """A freshly initialised model (initialised from torch's global RNG; seed it for reproducibility).

    Args:
        arch: a registered architecture name (see :func:`available_architectures`).
        num_classes: number of output classes (>= 2).
        image_size: side of the square input images (>= 8).

    Returns:
        A module mapping ``[b, 3, image_size, image_size]`` in ``[0, 1]`` to logits ``[b, num_classes]``.

    Raises:
        RegistryError: unknown ``arch``.
        InputError: invalid ``num_classes`` or ``image_size``.
    """
    cls = get_architecture(arch)
    model: nn.Module = cls(num_classes=num_classes, image_size=image_size)
    return model


register_architecture(TinyCNN)
register_architecture(ResNet18)
