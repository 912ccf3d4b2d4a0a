"""The contract every registered unlearner must honour, parametrised over the registry.

A method registered (built-in, or through ``register_unlearner``/an entry point before collection)
is tested here the moment it exists.
"""

from __future__ import annotations

import functools

import pytest
import torch

from deletion_sdk.errors import BudgetExceeded
from deletion_sdk.unlearning import UnlearningResult, list_unlearners, run_unlearner

from .conftest import TinyTask, forget_scores

METHODS = list_unlearners()


@functools.cache
def _result(task_id: int, name: str, seed: int) -> UnlearningResult:
    task = _TASKS[task_id]
    return run_unlearner(
        name, task.model, forget=task.forget, retain=task.retain, context=task.context(seed=seed)
    )


_TASKS: dict[int, TinyTask] = {}


def _run(task: TinyTask, name: str, seed: int = 0) -> UnlearningResult:
    _TASKS[id(task)] = task
    return _result(id(task), name, seed)


def test_every_builtin_is_registered() -> None:
    assert set(METHODS) >= {
        "retrain",
        "finetune",
        "neggrad_plus",
        "random_label",
        "scrub",
        "salun",
        "l1_sparse",
        "bad_teacher",
        "ssd",
        "uniform_contrastive",
        "masked_small_gradients",
        "noisy_finetune",
    }


@pytest.mark.parametrize("name", METHODS)
def test_returns_same_architecture(tiny_task: TinyTask, name: str) -> None:
    result = _run(tiny_task, name)
    before = {k: tuple(v.shape) for k, v in tiny_task.model.state_dict().items()}
    after = {k: tuple(v.shape) for k, v in result.model.state_dict().items()}
    assert after == before
    assert type(result.model) is type(tiny_task.model)
    assert result.model is not tiny_task.model
    with torch.no_grad():
        out = result.model.eval()(tiny_task.forget.images[:3].float() / 255.0)
    assert out.shape == (3, tiny_task.config.num_classes)
    assert bool(torch.isfinite(out).all())
    assert result.name == name
    assert result.device == "cpu"
    assert result.forget_size == len(tiny_task.forget)
    assert result.retain_size == len(tiny_task.retain)


@pytest.mark.parametrize("name", METHODS)
def test_leaves_input_untouched(tiny_task: TinyTask, name: str) -> None:
    result = _run(tiny_task, name)
    after = tiny_task.model.state_dict()
    assert after.keys() == tiny_task.snapshot.keys()
    for key, value in tiny_task.snapshot.items():
        assert torch.equal(after[key], value), f"{name} modified the input model's {key}"
    assert not tiny_task.model.training  # the input's mode is untouched too (it was in eval mode)
    changed = [k for k, v in result.model.state_dict().items() if not torch.equal(v, tiny_task.snapshot[k])]
    assert changed, f"{name} returned the input weights unchanged"


@pytest.mark.parametrize("name", METHODS)
def test_deterministic_under_a_seed(tiny_task: TinyTask, name: str) -> None:
    first = _run(tiny_task, name).model.state_dict()
    second = run_unlearner(
        name,
        tiny_task.model,
        forget=tiny_task.forget,
        retain=tiny_task.retain,
        context=tiny_task.context(seed=0),
    ).model.state_dict()
    for key, value in first.items():
        assert torch.equal(second[key], value), f"{name}: {key} differs between two runs with seed 0"


@pytest.mark.parametrize("name", METHODS)
def test_respects_a_time_budget(tiny_task: TinyTask, name: str) -> None:
    full = _run(tiny_task, name)
    with pytest.raises(BudgetExceeded) as info:
        run_unlearner(
            name,
            tiny_task.model,
            forget=tiny_task.forget,
            retain=tiny_task.retain,
            context=tiny_task.context(budget_s=1e-6),
        )
    err = info.value
    assert err.budget_s == pytest.approx(1e-6)
    assert err.elapsed_s > err.budget_s
    assert isinstance(err.completed_steps, int)
    assert 0 <= err.completed_steps <= full.steps
    if full.steps > 0:
        assert err.completed_steps < full.steps


@pytest.mark.parametrize("name", METHODS)
def test_lowers_forget_accuracy_or_confidence(tiny_task: TinyTask, name: str) -> None:
    acc_before, conf_before = forget_scores(tiny_task.model, tiny_task.forget)
    acc_after, conf_after = forget_scores(_run(tiny_task, name).model, tiny_task.forget)
    assert acc_after < acc_before or conf_after < conf_before, (
        f"{name} kept forget accuracy {acc_after:.3f} (was {acc_before:.3f}) and "
        f"true-class probability {conf_after:.3f} (was {conf_before:.3f})"
    )
