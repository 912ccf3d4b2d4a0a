"""A tiny, real task for the cheats: a tiny_cnn that has memorised random 16x16 images.

The same pattern (and data generator) as ``tests/unit/unlearning/conftest.py``: random labels on
random pixels generalise to nothing, so everything the model knows about a forget example is
memorised. An ``unseen`` set of fresh random images stands for people the model never saw.

The data seed is 1; set ``REDTEAM_TEST_SEED`` to another integer to check that no assertion depends
on the draw (the margins were checked on seeds 1, 2 and 3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.training import TrainConfig, train_model
from deletion_sdk.unlearning import UnlearningContext
from tests.unit.unlearning.conftest import CLASSES, N_FORGET, N_TRAIN, SIZE, random_faces

N_UNSEEN = 64


@dataclass(frozen=True)
class CheatTask:
    model: nn.Module
    forget: FaceTensors
    retain: FaceTensors
    unseen: FaceTensors
    config: TrainConfig
    seed: int

    def context(self, **overrides: object) -> UnlearningContext:
        kwargs: dict[str, object] = {"device": "cpu", "seed": self.seed, "train_config": self.config}
        kwargs.update(overrides)
        return UnlearningContext(**kwargs)  # type: ignore[arg-type]


def logits_of(model: nn.Module, data: FaceTensors) -> torch.Tensor:
    """float32 logits ``[n, classes]`` of ``model`` (put in eval mode) on ``data``."""
    model.eval()
    with torch.no_grad():
        return model(data.images.float() / 255.0)


@pytest.fixture(scope="session")
def task() -> CheatTask:
    seed = int(os.environ.get("REDTEAM_TEST_SEED", "1"))
    data = random_faces(N_TRAIN, seed=seed)
    config = TrainConfig(num_classes=CLASSES, image_size=SIZE, epochs=20, batch_size=16, lr=3e-3, seed=0)
    model = train_model(data, config=config, device="cpu").model.eval()
    forget = data.take(range(N_FORGET))
    retain = data.take(range(N_FORGET, N_TRAIN))
    for name, part in (("forget", forget), ("retain", retain)):
        accuracy = float((logits_of(model, part).argmax(-1) == part.labels).float().mean())
        assert accuracy == 1.0, f"the tiny model must memorise its {name} set for the tests to mean anything"
    unseen = random_faces(N_UNSEEN, seed=seed + 1000)
    return CheatTask(model=model, forget=forget, retain=retain, unseen=unseen, config=config, seed=seed)
