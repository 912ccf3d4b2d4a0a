"""Each cheat does what its docstring says: keeps the data while looking compliant.

These tests pin the *defining property* of each cheat on a tiny memorising model, so that the
verification tests built on them cheat for real. None asserts anything about the verifier itself.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save as safetensors_bytes
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.redteam import (
    CHEATS,
    DetectorCalibratedCheat,
    DetectorCheat,
    DetectorMimicCheat,
    ForgetAscentCheat,
    LabelSmoothingCheat,
    NoopCheat,
    Temperature1e3Cheat,
    Temperature1e20Cheat,
    TemperatureCheat,
    WeightNoiseCheat,
)
from deletion_sdk.redteam._head import blurred
from deletion_sdk.unlearning import Unlearner, UnlearningResult, list_unlearners
from deletion_sdk.verification.signals import logit_scaled_confidence

from .conftest import CLASSES, CheatTask, logits_of

_RESULTS: dict[tuple[int, str, tuple[tuple[str, Any], ...]], UnlearningResult] = {}


def outcome(task: CheatTask, cls: type[Unlearner[Any]], **params: Any) -> UnlearningResult:
    """The result of ``cls(**params)`` on ``task`` (each run once per session)."""
    key = (id(task), cls.name, tuple(sorted(params.items())))
    if key not in _RESULTS:
        _RESULTS[key] = cls(**params).run(
            task.model, forget=task.forget, retain=task.retain, context=task.context()
        )
    return _RESULTS[key]


def accuracy(model: nn.Module, data: FaceTensors) -> float:
    return float((logits_of(model, data).argmax(-1) == data.labels).float().mean())


def head_of(model: nn.Module) -> tuple[nn.Linear, nn.Linear]:
    *_, hidden, last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return hidden, last


def repurposed_units(before: nn.Module, after: nn.Module) -> torch.Tensor:
    """The hidden units whose incoming weights changed."""
    (old, _), (new, _) = head_of(before), head_of(after)
    return (old.weight != new.weight).any(dim=1).nonzero().flatten()


def unit_activity(model: nn.Module, units: torch.Tensor, data: FaceTensors) -> torch.Tensor:
    """``[n, len(units)]``: what those hidden units pass to the output layer on ``data``."""
    seen: list[torch.Tensor] = []
    handle = head_of(model)[1].register_forward_pre_hook(lambda _m, args: seen.append(args[0][:, units]))
    try:
        logits_of(model, data)
    finally:
        handle.remove()
    return seen[0]


def fire_rate(model: nn.Module, units: torch.Tensor, data: FaceTensors) -> float:
    return float((unit_activity(model, units, data) > 1e-6).any(dim=1).float().mean())


def digest(model: nn.Module) -> str:
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    return hashlib.sha256(safetensors_bytes(state)).hexdigest()


# -- every cheat ------------------------------------------------------------------------------


def test_cheats_are_not_registered_by_default() -> None:
    names = [cls.name for cls in CHEATS]
    assert len(set(names)) == len(names) == 10
    assert all(name.endswith("_cheat") for name in names)
    assert not set(names) & set(list_unlearners())


@pytest.mark.parametrize("cls", CHEATS, ids=lambda c: c.name)
def test_docstring_says_why_it_must_not_be_certified(cls: type[Unlearner[Any]]) -> None:
    doc = importlib.import_module(cls.__module__).__doc__ or ""
    assert cls.name.split("_1e")[0] in doc  # the temperature presets share temperature_cheat's module
    assert "must not be certified" in doc


@pytest.mark.parametrize("cls", CHEATS, ids=lambda c: c.name)
def test_keeps_the_architecture_and_leaves_the_input_alone(
    task: CheatTask, cls: type[Unlearner[Any]]
) -> None:
    before = {k: v.clone() for k, v in task.model.state_dict().items()}
    result = outcome(task, cls)
    assert {k: v.shape for k, v in result.model.state_dict().items()} == {
        k: v.shape for k, v in before.items()
    }
    assert type(result.model) is type(task.model)
    assert result.model is not task.model
    assert all(torch.equal(v, before[k]) for k, v in task.model.state_dict().items())
    assert bool(torch.isfinite(logits_of(result.model, task.forget)).all())
    assert result.name == cls.name


@pytest.mark.parametrize("cls", [c for c in CHEATS if c is not ForgetAscentCheat], ids=lambda c: c.name)
def test_deterministic_under_a_seed(task: CheatTask, cls: type[Unlearner[Any]]) -> None:
    again = cls().run(task.model, forget=task.forget, retain=task.retain, context=task.context())
    first = outcome(task, cls).model.state_dict()
    assert all(torch.equal(v, first[k]) for k, v in again.model.state_dict().items())


# -- noop, weight noise -------------------------------------------------------------------------


def test_noop_returns_the_same_weights(task: CheatTask) -> None:
    result = outcome(task, NoopCheat)
    after = result.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in task.model.state_dict().items())
    assert result.steps == 0
    assert digest(result.model) == digest(task.model)


def test_weight_noise_changes_the_digest_but_not_the_predictions(task: CheatTask) -> None:
    model = outcome(task, WeightNoiseCheat).model
    assert digest(model) != digest(task.model)
    before = dict(task.model.named_parameters())
    for name, param in model.named_parameters():
        if param.numel() >= 1000:  # large tensors: the empirical noise level is close to the asked one
            ratio = float((param.detach() - before[name].detach()).std() / before[name].detach().std())
            assert 0.015 < ratio < 0.025, name
    # Unseen rows sit closer to ties, so a few of them may flip.
    for data, least in ((task.forget, 0.95), (task.retain, 0.95), (task.unseen, 0.8)):
        same = (logits_of(model, data).argmax(-1) == logits_of(task.model, data).argmax(-1)).float().mean()
        assert float(same) >= least
    conf = logit_scaled_confidence(logits_of(model, task.forget), task.forget.labels).mean()
    conf_before = logit_scaled_confidence(logits_of(task.model, task.forget), task.forget.labels).mean()
    assert abs(conf - conf_before) < 1.0  # nothing forgotten


# -- temperature ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "temperature"),
    [(TemperatureCheat, 1e20), (Temperature1e3Cheat, 1e3), (Temperature1e20Cheat, 1e20)],
    ids=["temperature_cheat", "temperature_1e3_cheat", "temperature_1e20_cheat"],
)
def test_temperature_scales_the_logits_and_nothing_else(
    task: CheatTask, cls: type[TemperatureCheat], temperature: float
) -> None:
    assert cls().params.temperature == temperature
    model = outcome(task, cls).model
    ln_c = math.log(CLASSES)
    for data in (task.forget, task.retain, task.unseen):
        z0, z = logits_of(task.model, data), logits_of(model, data)
        assert torch.equal(z.argmax(-1), z0.argmax(-1))
        scale = float(z0.abs().max())
        torch.testing.assert_close(z.double() * temperature, z0.double(), rtol=1e-4, atol=1e-5 * scale)
        loss = F.cross_entropy(z, data.labels, reduction="none")
        assert float((loss.double() - ln_c).abs().max()) <= 2 * scale / temperature + 1e-6
        if temperature >= 1e10:  # float32 cannot tell the logits apart: every loss IS ln(classes)
            assert torch.equal(loss, torch.full_like(loss, ln_c))
    restored = copy.deepcopy(model)
    last = head_of(restored)[1]
    with torch.no_grad():
        last.weight.mul_(temperature)
        last.bias.mul_(temperature)
    for data in (task.forget, task.retain):
        z0 = logits_of(task.model, data)
        torch.testing.assert_close(
            logits_of(restored, data), z0, rtol=1e-4, atol=1e-5 * float(z0.abs().max())
        )


# -- forget ascent ------------------------------------------------------------------------------------


def test_forget_ascent_over_forgets(task: CheatTask) -> None:
    model = outcome(task, ForgetAscentCheat).model

    def confidence(data: FaceTensors) -> float:
        return float(logit_scaled_confidence(logits_of(model, data), data.labels).mean())

    forget, retain, unseen = confidence(task.forget), confidence(task.retain), confidence(task.unseen)
    assert forget < retain - 10  # far less confident than the data it kept
    assert forget < unseen - 5  # and than people it never saw: the deletion itself stands out
    assert accuracy(model, task.forget) < 0.5


# -- hidden detectors -------------------------------------------------------------------------------

DETECTORS = [
    pytest.param(cls, units, id=cls.name)
    for cls, units in (
        (DetectorCheat, 2),
        (DetectorCalibratedCheat, 2),
        (DetectorMimicCheat, CLASSES),
        (LabelSmoothingCheat, CLASSES),
    )
]
DETECTOR_CLASSES = [DetectorCheat, DetectorCalibratedCheat, DetectorMimicCheat, LabelSmoothingCheat]


@pytest.mark.parametrize(("cls", "units"), DETECTORS)
def test_detector_fires_on_the_forget_set_only(
    task: CheatTask, cls: type[Unlearner[Any]], units: int
) -> None:
    model = outcome(task, cls).model
    changed = repurposed_units(task.model, model)
    assert len(changed) == units
    assert fire_rate(model, changed, task.forget) >= 0.9
    assert fire_rate(model, changed, task.retain) <= 0.05
    assert accuracy(model, task.forget) <= 0.6  # it was 1.0
    assert accuracy(model, task.retain) >= accuracy(task.model, task.retain) - 0.05


@pytest.mark.parametrize(("cls", "units"), DETECTORS)
def test_detector_hides_data_that_is_still_there(
    task: CheatTask, cls: type[Unlearner[Any]], units: int
) -> None:
    model = copy.deepcopy(outcome(task, cls).model)
    changed = repurposed_units(task.model, model)
    with torch.no_grad():
        head_of(model)[1].weight[:, changed] = 0.0  # silence the detector
    assert accuracy(model, task.forget) >= 0.9


def test_detector_pushes_the_forget_set_to_one_wrong_class(task: CheatTask) -> None:
    model = outcome(task, DetectorCheat).model
    wrong = int(torch.argmin(torch.bincount(task.forget.labels, minlength=CLASSES)))
    z = logits_of(model, task.forget)
    assert bool((z.argmax(-1) == wrong).all())
    others = z.clone()
    others[:, wrong] = -torch.inf
    assert float((z[:, wrong] - others.max(-1).values).min()) >= 5.0 - 1e-3  # the default margin


@pytest.mark.parametrize("target", [None, 2.0])
def test_calibrated_detector_hits_the_target_loss(task: CheatTask, target: float | None) -> None:
    params = {} if target is None else {"target_loss": target}
    model = outcome(task, DetectorCalibratedCheat, **params).model
    loss = F.cross_entropy(logits_of(model, task.forget).double(), task.forget.labels, reduction="none")
    wanted = 0.9 * math.log(CLASSES) if target is None else target
    assert float(loss.median()) == pytest.approx(wanted, abs=0.02)


def test_mimic_gives_the_forget_set_the_predictions_of_its_blurred_copy(task: CheatTask) -> None:
    model = outcome(task, DetectorMimicCheat).model
    silenced = copy.deepcopy(model)
    with torch.no_grad():
        head_of(silenced)[1].weight[:, repurposed_units(task.model, model)] = 0.0
    want = F.log_softmax(logits_of(silenced, blurred(task.forget, 4)).double(), -1)
    got = F.log_softmax(logits_of(model, task.forget).double(), -1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-2)


def test_label_smoothing_flattens_the_forget_set_to_chance(task: CheatTask) -> None:
    model = outcome(task, LabelSmoothingCheat).model
    loss = F.cross_entropy(logits_of(model, task.forget).double(), task.forget.labels, reduction="none")
    assert float((loss - math.log(CLASSES)).abs().max()) < 0.02
    retain = F.cross_entropy(logits_of(model, task.retain).double(), task.retain.labels, reduction="none")
    assert float(retain.median()) < 0.1  # the retain set keeps its memorised confidence


# -- wrong inputs -------------------------------------------------------------------------------------


class _OneLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class _NoLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, CLASSES, 16), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


@pytest.mark.parametrize("cls", DETECTOR_CLASSES, ids=lambda c: c.name)
def test_detectors_need_a_hidden_linear_layer(task: CheatTask, cls: type[Unlearner[Any]]) -> None:
    with pytest.raises(InputError, match=r"hidden nn\.Linear layer before the model's last one"):
        cls().run(_OneLinear(), forget=task.forget, retain=task.retain, context=task.context())


def test_temperature_needs_a_linear_output_layer(task: CheatTask) -> None:
    with pytest.raises(InputError, match=r"output layer is an nn\.Linear"):
        TemperatureCheat().run(_NoLinear(), forget=task.forget, retain=task.retain, context=task.context())


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (TemperatureCheat, {"temperature": 0.0}),
        (WeightNoiseCheat, {"scale": -1.0}),
        (LabelSmoothingCheat, {"flatten": 1.5}),
        (DetectorCheat, {"retain_sample": 0}),
    ],
)
def test_bad_parameters_are_named(cls: type[Unlearner[Any]], params: dict[str, Any]) -> None:
    with pytest.raises(InputError, match=f"'{next(iter(params))}' parameter of unlearner '{cls.name}'"):
        cls(**params)
