"""A small real setting for the verification tests: random 8x8 images with random labels, and a small MLP
trained by the SDK's own training loop until it memorises its training set (so membership is detectable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from torch import nn

from deletion_sdk.data import FaceTensors
from deletion_sdk.training import Architecture, TrainConfig, register_architecture, train_model


@register_architecture
class SmallMLP(Architecture):
    """``[b, 3, S, S] -> [b, classes]``: flatten, one hidden layer (registered: checkpoints rebuild it)."""

    name: ClassVar[str] = "verification_test_mlp"

    def __init__(self, *, num_classes: int = 4, image_size: int = 8, hidden: int = 128) -> None:
        super().__init__(num_classes=num_classes, image_size=image_size)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(3 * image_size * image_size, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def make_faces(n: int, *, offset: int, generator: torch.Generator, classes: int = 4) -> FaceTensors:
    labels = torch.randint(0, classes, (n,), generator=generator)
    return FaceTensors(
        images=torch.randint(0, 256, (n, 3, 8, 8), generator=generator, dtype=torch.uint8),
        labels=labels,
        ages=labels.float() * 5.0 + 2.5 + torch.rand(n, generator=generator),
        example_ids=tuple(f"ex-{offset + i:05d}" for i in range(n)),
    )


@dataclass(frozen=True)
class Setting:
    forget: FaceTensors
    retain: FaceTensors
    holdout: FaceTensors
    test: FaceTensors
    original: nn.Module
    retrained: nn.Module


def _train(data: FaceTensors, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    config = TrainConfig(num_classes=4, image_size=8, epochs=12, batch_size=48, lr=1e-2, seed=seed)
    return train_model(data, config=config, device="cpu", model=SmallMLP()).model


@pytest.fixture(scope="session")
def setting() -> Setting:
    g = torch.Generator().manual_seed(0)
    train = make_faces(240, offset=0, generator=g)
    holdout = make_faces(120, offset=10_000, generator=g)
    test = make_faces(60, offset=20_000, generator=g)
    forget, retain = train.take(list(range(60))), train.take(list(range(60, 240)))
    return Setting(
        forget=forget,
        retain=retain,
        holdout=holdout,
        test=test,
        original=_train(train, seed=0),
        retrained=_train(retain, seed=1),
    )
