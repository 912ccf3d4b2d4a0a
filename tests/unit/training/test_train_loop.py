from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch

from deletion_sdk.data import (
    AgePredictorData,
    FaceTensors,
    SynthFacesConfig,
    default_age_predictor_data,
    generate_faces,
)
from deletion_sdk.errors import InputError
from deletion_sdk.training import (
    TrainConfig,
    TrainMetrics,
    accuracy,
    build_model,
    class_weights,
    example_losses,
    mae_years,
    make_optimizer,
    make_scheduler,
    train_model,
)


@pytest.fixture(scope="module")
def tiny() -> AgePredictorData:
    return default_age_predictor_data(0, size="tiny")


def _config(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"epochs": 2, "batch_size": 64}
    base.update(kw)
    return TrainConfig.model_validate(base)


def test_same_seed_same_weights_on_cpu(tiny: AgePredictorData) -> None:
    sample = tiny.train.take(range(160))
    a = train_model(sample, config=_config(seed=3, augment_flip=True), device="cpu")
    b = train_model(sample, config=_config(seed=3, augment_flip=True), device="cpu")
    c = train_model(sample, config=_config(seed=4, augment_flip=True), device="cpu")
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.metrics.epoch_losses == b.metrics.epoch_losses


def test_training_does_not_disturb_the_global_rng(tiny: AgePredictorData) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_model(tiny.train.take(range(64)), config=_config(epochs=1), device="cpu")
    assert torch.equal(torch.rand(3), expected)


def test_tiny_run_beats_chance(tiny: AgePredictorData) -> None:
    # Scored on a large fresh population (new people), so the check is not at the mercy of a tiny
    # holdout's class mix; chance = the best image-blind guess, the training set's majority class.
    fresh = generate_faces(SynthFacesConfig(n_subjects=400, seed=1000)).data
    config = TrainConfig(epochs=10, batch_size=32, lr=1e-3)
    result = train_model(tiny.train, config=config, device="cpu", eval_sets={"fresh": fresh})
    m = result.metrics
    majority = int(torch.bincount(tiny.train.labels, minlength=10).argmax())
    chance = float((fresh.labels == majority).float().mean())
    assert m.accuracy["fresh"] > chance + 0.05
    assert m.train_accuracy > m.accuracy["fresh"]  # it fits its training people better
    assert m.epoch_losses[-1] < m.epoch_losses[0]
    # The metrics agree with the standalone helpers.
    assert accuracy(result.model, fresh) == pytest.approx(m.accuracy["fresh"])
    assert mae_years(result.model, fresh) == pytest.approx(m.mae_years["fresh"])
    assert 0 < m.mae_years["fresh"] < 20
    assert not result.model.training
    assert TrainMetrics.model_validate_json(m.model_dump_json()) == m


def test_variants_run_and_report(tiny: AgePredictorData) -> None:
    sample = tiny.train.take(range(96))
    for config in (
        _config(
            epochs=1, optimizer="sgd", lr=0.05, class_weighted=True, label_smoothing=0.1, max_grad_norm=1.0
        ),
        _config(epochs=1, warmup_epochs=0.5, weight_decay=1e-4, final_lr_fraction=0.1),
    ):
        m = train_model(sample, config=config, device="cpu", eval_sets={"x": sample}).metrics
        assert m.n_train == 96 and m.steps == 2 and m.device == "cpu"
        assert all(math.isfinite(v) for v in m.epoch_losses)
        assert m.images_per_s > 0 and m.wall_time_s >= m.train_time_s


def test_continues_a_given_model(tiny: AgePredictorData) -> None:
    torch.manual_seed(0)
    model = build_model("tiny_cnn")
    result = train_model(tiny.train.take(range(64)), config=_config(epochs=1), device="cpu", model=model)
    assert result.model is model


def test_per_example_losses_shape(tiny: AgePredictorData) -> None:
    model = build_model("tiny_cnn")
    losses = example_losses(model, tiny.holdout)
    assert losses.shape == (len(tiny.holdout),) and bool((losses >= 0).all())


def test_class_weights_inverse_frequency() -> None:
    w = class_weights(torch.tensor([0, 0, 0, 1, 2, 2]), 4)
    assert w[3] == 0
    assert torch.allclose(w[:3], torch.tensor([6 / 9, 6 / 3, 6 / 6]))
    assert float((w[:3] * torch.tensor([3, 1, 2])).sum()) == pytest.approx(6)


def test_optimizer_and_schedule() -> None:
    model = build_model("tiny_cnn")
    sgd = make_optimizer(model, _config(optimizer="sgd", momentum=0.9, weight_decay=0.01))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"]
    assert sgd.param_groups[0]["weight_decay"] == 0.01 and sgd.param_groups[1]["weight_decay"] == 0
    adam = make_optimizer(model, _config(optimizer="adam", lr=1e-3))
    sched = make_scheduler(adam, _config(epochs=2, lr=1e-3, warmup_epochs=1), total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(adam.param_groups[0]["lr"])
        adam.step()
        sched.step()
    assert lrs[0] == pytest.approx(2e-4) and lrs[4] == pytest.approx(1e-3)  # warm-up over 5 steps
    assert lrs[5] == pytest.approx(1e-3) and lrs[-1] < 1e-4  # then cosine decay
    assert all(b <= a for a, b in pairwise(lrs[5:]))


def test_input_validation(tiny: AgePredictorData) -> None:
    with pytest.raises(InputError, match="image_size"):
        train_model(tiny.train, config=_config(image_size=16), device="cpu")
    bad = FaceTensors(
        images=tiny.train.images[:4],
        labels=torch.tensor([0, 1, 2, 12]),
        ages=tiny.train.ages[:4],
        example_ids=tiny.train.example_ids[:4],
    )
    with pytest.raises(InputError, match="labels"):
        train_model(bad, config=_config(), device="cpu")
    with pytest.raises(InputError, match="at least one"):
        train_model(tiny.train.take([]), config=_config(), device="cpu")
    with pytest.raises(ValueError, match="optimizer"):
        _config(optimizer="rmsprop")


def test_config_round_trips_and_is_frozen() -> None:
    config = _config(lr=0.01)
    assert TrainConfig.model_validate_json(config.model_dump_json()) == config
    with pytest.raises(ValueError, match="frozen"):
        config.lr = 1.0  # type: ignore[misc]
