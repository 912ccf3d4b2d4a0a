from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from torch import nn

from deletion_sdk.errors import InputError, RegistryError
from deletion_sdk.training import (
    Architecture,
    available_architectures,
    build_model,
    get_architecture,
    register_architecture,
    unregister_architecture,
)


@pytest.mark.parametrize(
    ("arch", "size"), [("tiny_cnn", 32), ("tiny_cnn", 16), ("tiny_cnn", 64), ("resnet18", 32)]
)
def test_builtin_models_map_images_to_logits(arch: str, size: int) -> None:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=7, image_size=size).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 3, size, size))
    assert out.shape == (3, 7)
    assert torch.isfinite(out).all()


def test_resnet18_has_small_image_stem() -> None:
    model = build_model("resnet18")
    stem = model.net.conv1  # type: ignore[union-attr]
    assert isinstance(stem, nn.Conv2d)
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert isinstance(model.net.maxpool, nn.Identity)  # type: ignore[union-attr]


def test_normalisation_lives_inside_the_model() -> None:
    # A constant mid-grey image is normalised to near zero before the first conv: the buffers exist
    # and are not part of the state dict (checkpoints stay plain weights).
    model = build_model("tiny_cnn")
    assert "_mean" not in model.state_dict()
    assert isinstance(model, Architecture)
    normed = (torch.full((1, 3, 1, 1), 0.5) - model._mean) / model._std
    assert float(normed.abs().max()) < 0.5


def test_registry_lists_and_rejects_unknown() -> None:
    assert {"tiny_cnn", "resnet18"} <= set(available_architectures())
    with pytest.raises(RegistryError, match=r"Unknown architecture 'vit'.*resnet18, tiny_cnn"):
        build_model("vit")


def test_register_duplicate_and_force() -> None:
    class Linear(Architecture):
        name: ClassVar[str] = "test_linear"

        def __init__(self, *, num_classes: int, image_size: int) -> None:
            super().__init__(num_classes=num_classes, image_size=image_size)
            self.fc = nn.Linear(3 * image_size * image_size, num_classes)

        def _forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.fc(x.flatten(1))
            return out

    register_architecture(Linear)
    try:
        assert get_architecture("test_linear") is Linear
        assert build_model("test_linear", num_classes=3, image_size=8)(torch.rand(2, 3, 8, 8)).shape == (2, 3)
        with pytest.raises(RegistryError, match=r"already registered.*Registered: "):
            register_architecture(Linear)
        register_architecture(Linear, force=True)
    finally:
        unregister_architecture("test_linear")
    with pytest.raises(RegistryError, match="Unknown architecture"):
        unregister_architecture("test_linear")


def test_register_rejects_nameless_and_non_modules() -> None:
    class Nameless(Architecture):
        pass

    with pytest.raises(RegistryError, match="name"):
        register_architecture(Nameless)
    with pytest.raises(RegistryError, match=r"nn\.Module"):
        register_architecture(int)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "match"), [({"num_classes": 1}, "num_classes"), ({"image_size": 4}, "image_size")]
)
def test_invalid_sizes(kw: dict[str, int], match: str) -> None:
    with pytest.raises(InputError, match=match):
        build_model("tiny_cnn", **kw)
