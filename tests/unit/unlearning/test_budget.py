"""The retraining-time estimates: deterministic properties under a fake clock, never wall-clock values."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch
from torch import nn

from deletion_sdk.errors import InputError
from deletion_sdk.training import TrainConfig, build_model
from deletion_sdk.unlearning.budget import estimate_retrain_time_s, recorded_retrain_time_s, retrain_time_s

from .conftest import CLASSES, SIZE, random_faces

BS = 8


def _config(epochs: int = 3, **kw: object) -> TrainConfig:
    return TrainConfig(num_classes=CLASSES, image_size=SIZE, epochs=epochs, batch_size=BS, **kw)  # type: ignore[arg-type]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return build_model("tiny_cnn", num_classes=CLASSES, image_size=SIZE).eval()


def _ticks() -> Callable[[], float]:
    """A clock that advances one second per reading: every timed step and the evaluation take 1 s."""
    counter = itertools.count()
    return lambda: float(next(counter))


def _estimate(n: int, *, epochs: int = 3, probe_steps: int = 2, model: nn.Module | None = None) -> float:
    return estimate_retrain_time_s(
        model if model is not None else _model(),
        random_faces(n, seed=3),
        train_config=_config(epochs),
        device="cpu",
        probe_steps=probe_steps,
        clock=_ticks(),
    )


def _expected(n: int, *, epochs: int, probe_steps: int) -> float:
    """1 s per step of every epoch (the partial batch included) + 1 s of evaluation scaled to ``n``."""
    full, partial = divmod(n, BS)
    n_probe = min(full, probe_steps) * BS + partial
    return epochs * (full + (partial > 0)) + n / n_probe


@pytest.mark.parametrize(("n", "probe_steps"), [(40, 2), (41, 2), (5, 3), (16, 4), (23, 1)])
def test_estimate_is_steps_per_epoch_times_epochs_plus_the_evaluation(n: int, probe_steps: int) -> None:
    got = _estimate(n, epochs=3, probe_steps=probe_steps)
    assert got == pytest.approx(_expected(n, epochs=3, probe_steps=probe_steps))


def test_estimate_scales_with_epochs_and_retain_size() -> None:
    eval_part = 40 / 16  # n / n_probe with probe_steps=2 and no partial batch
    one, four = _estimate(40, epochs=1) - eval_part, _estimate(40, epochs=4) - eval_part
    assert four == pytest.approx(4 * one)
    small, large = _estimate(40, epochs=2), _estimate(80, epochs=2)
    assert large == pytest.approx(2 * small)  # steps and the scaled evaluation both double


def test_estimate_counts_the_partial_last_batch() -> None:
    exact, plus_one = _estimate(40, epochs=3), _estimate(41, epochs=3)
    # One more (partial) step in each of the 3 epochs; the evaluation scale moves from 40/16 to 41/17.
    assert plus_one - exact == pytest.approx(3 + 41 / 17 - 40 / 16)


def test_estimate_does_not_modify_the_model() -> None:
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _estimate(41, model=model)
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).is_contiguous()  # the probe's channels_last copy is not this one


def test_estimate_rejects_bad_inputs() -> None:
    with pytest.raises(InputError, match="'probe_steps'"):
        _estimate(40, probe_steps=0)
    with pytest.raises(InputError, match="'retain'"):
        _estimate(0)
    with pytest.raises(InputError, match="image"):  # what the retrain itself would refuse
        estimate_retrain_time_s(
            _model(), random_faces(20, seed=1, size=8), train_config=_config(), device="cpu", clock=_ticks()
        )


def test_recorded_time_scales_to_the_retain_set() -> None:
    metrics = {"train_time_s": 100.0, "n_train": 1000, "device": "cpu"}
    assert recorded_retrain_time_s(metrics, 900, device="cpu") == pytest.approx(90.0)
    assert recorded_retrain_time_s({**metrics, "retrain_estimate_s": 42.0}, 900) == 42.0
    assert recorded_retrain_time_s({"n_train": 1000}, 900) is None
    assert recorded_retrain_time_s({}, 900) is None


def test_recorded_time_of_another_device_kind_is_not_used() -> None:
    metrics = {"train_time_s": 100.0, "n_train": 1000, "device": "cuda:0"}
    assert recorded_retrain_time_s(metrics, 500, device="cpu") is None
    assert recorded_retrain_time_s(metrics, 500) == pytest.approx(50.0)  # no device: no check
    assert recorded_retrain_time_s({**metrics, "device": "cpu"}, 500, device="cpu") == pytest.approx(50.0)


def _batch_estimate(metrics: dict[str, object], **kw: object) -> float | None:
    args: dict[str, object] = {
        "metrics": metrics,
        "model": _model(),
        "retain": random_faces(24, seed=2),
        "train_config": _config(),
        "device": "cpu",
        "clock": _ticks(),
    }
    args.update(kw)
    return retrain_time_s(**args)  # type: ignore[arg-type]


def test_batch_estimate_keeps_a_long_record_and_probes_a_short_or_missing_one() -> None:
    probe = _expected(24, epochs=3, probe_steps=4)  # 3 full steps x 3 epochs + 1 s of evaluation
    long_record = {"train_time_s": 100.0, "n_train": 48, "device": "cpu"}  # 50 s for the 24 retained
    short_record = {"train_time_s": 10.0, "n_train": 48, "device": "cpu"}  # 5 s: start-up dominated
    assert _batch_estimate(long_record) == pytest.approx(50.0)
    assert _batch_estimate(short_record) == pytest.approx(probe)
    assert _batch_estimate(short_record, probe_below_s=0.0) == pytest.approx(5.0)
    assert _batch_estimate({}) == pytest.approx(probe)
    assert _batch_estimate({**long_record, "device": "cuda:0"}) == pytest.approx(probe)  # not this device's


def test_batch_estimate_without_a_probe() -> None:
    assert _batch_estimate({}, train_config=None) is None  # imported weights, nothing recorded
    short_record = {"train_time_s": 10.0, "n_train": 48, "device": "cpu"}
    assert _batch_estimate(short_record, train_config=None) == pytest.approx(5.0)
    assert _batch_estimate({}, retain=random_faces(24, seed=2, size=8)) is None  # the retrain would refuse it
