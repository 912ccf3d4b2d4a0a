"""A tiny, real unlearning task: a tiny_cnn that has memorised random 16x16 images, forget set included.

Random labels on random pixels generalise to nothing, so everything the model knows about a forget
example is memorised: a method that forgets must lower the forget set's accuracy or confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.training import TrainConfig, train_model
from deletion_sdk.unlearning import UnlearningContext

N_TRAIN = 96
N_FORGET = 16
CLASSES = 4
SIZE = 16


@dataclass(frozen=True)
class TinyTask:
    model: nn.Module
    forget: FaceTensors
    retain: FaceTensors
    config: TrainConfig
    snapshot: dict[str, torch.Tensor]  # the model's state when the task was made: it must never change

    def context(self, **overrides: object) -> UnlearningContext:
        kwargs: dict[str, object] = {"device": "cpu", "seed": 0, "train_config": self.config}
        kwargs.update(overrides)
        return UnlearningContext(**kwargs)  # type: ignore[arg-type]


def random_faces(n: int, *, seed: int, classes: int = CLASSES, size: int = SIZE) -> FaceTensors:
    g = torch.Generator().manual_seed(seed)
    return FaceTensors(
        images=torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8),
        labels=torch.randint(0, classes, (n,), generator=g),
        ages=torch.rand(n, generator=g) * 80,
        example_ids=tuple(f"ex-{seed}-{i}" for i in range(n)),
    )


def forget_scores(model: nn.Module, forget: FaceTensors) -> tuple[float, float]:
    """(accuracy, mean true-class probability) of ``model`` on ``forget``."""
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(forget.images.float() / 255.0), -1)
    acc = float((probs.argmax(-1) == forget.labels).float().mean())
    true_p = float(probs.gather(1, forget.labels.view(-1, 1)).mean())
    return acc, true_p


@pytest.fixture(scope="session")
def tiny_task() -> TinyTask:
    data = random_faces(N_TRAIN, seed=1)
    config = TrainConfig(num_classes=CLASSES, image_size=SIZE, epochs=20, batch_size=16, lr=3e-3, seed=0)
    result = train_model(data, config=config, device="cpu")
    forget = data.take(range(N_FORGET))
    retain = data.take(range(N_FORGET, N_TRAIN))
    acc, _ = forget_scores(result.model, forget)
    assert acc == 1.0, "the tiny model must memorise its forget set for the contract to mean anything"
    model = result.model.eval()
    snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TinyTask(model=model, forget=forget, retain=retain, config=config, snapshot=snapshot)
