"""The ablation probe finds a planted detector of the forget set and gives the attacks the memory back.

Runs on the red-team's tiny memorising task (a tiny_cnn that learned random labels by heart), where the
original model's attacks separate the forget set perfectly and a detector cheat hides it behind two
hidden units.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.redteam import DetectorCalibratedCheat, DetectorCheat
from deletion_sdk.verification.ablation import ablation_probe, output_layer
from tests.unit.redteam.conftest import CheatTask, task  # noqa: F401  (the shared fixture)
from tests.unit.unlearning.conftest import CLASSES, random_faces


def _cheat(task: CheatTask, cls: type[DetectorCheat] | type[DetectorCalibratedCheat]) -> nn.Module:  # noqa: F811
    return cls().run(task.model, forget=task.forget, retain=task.retain, context=task.context()).model


def test_the_original_shows_its_memory_with_or_without_ablation(task: CheatTask) -> None:  # noqa: F811
    figures = ablation_probe(task.model, forget=task.forget, holdout=task.unseen, device="cpu")
    assert figures is not None
    assert figures.baseline_auc >= 0.9  # memorised by heart
    assert figures.attack_auc >= figures.baseline_auc
    assert figures.units == output_layer(task.model).in_features  # type: ignore[union-attr]


@pytest.mark.parametrize("cls", [DetectorCheat, DetectorCalibratedCheat], ids=lambda c: c.name)
def test_switching_off_the_detector_gives_the_memory_back(
    task: CheatTask,  # noqa: F811
    cls: type[DetectorCheat] | type[DetectorCalibratedCheat],
) -> None:
    original = ablation_probe(task.model, forget=task.forget, holdout=task.unseen, device="cpu")
    cheat = ablation_probe(_cheat(task, cls), forget=task.forget, holdout=task.unseen, device="cpu")
    assert original is not None and cheat is not None
    assert cheat.baseline_auc < original.baseline_auc - 0.2  # the cheat hides the forget set ...
    assert cheat.attack_auc >= original.baseline_auc - 0.05  # ... until its units are switched off
    assert cheat.gain >= 0.2 and original.gain <= 0.05
    assert cheat.worst in {"top 1 forget-specific unit", "top 2 forget-specific units"}
    assert cheat.max_specificity > 2 * original.max_specificity  # the detector stands out


def test_the_probe_does_not_change_the_model(task: CheatTask) -> None:  # noqa: F811
    model = _cheat(task, DetectorCalibratedCheat)
    before = copy.deepcopy(model.state_dict())
    model.train()
    ablation_probe(model, forget=task.forget, holdout=task.unseen, device="cpu")
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class _NoLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, CLASSES, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).flatten(1)


class _ScaledAfterLinear(nn.Module):
    """The last linear layer is not the output: its logits are rescaled afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 16 * 16, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3.0 * self.fc(x.flatten(1))


@pytest.mark.parametrize("model", [_NoLinear(), _ScaledAfterLinear()], ids=["no-linear", "scaled-after"])
def test_not_measured_where_the_output_is_not_a_linear_layer(model: nn.Module) -> None:
    faces: FaceTensors = random_faces(8, seed=3)
    assert ablation_probe(model, forget=faces.take(range(4)), holdout=faces.take(range(4, 8))) is None
