"""Registry, parameter validation, context validation, results and progress reporting."""

from __future__ import annotations

import json

import pytest
import torch

from deletion_sdk.errors import BudgetExceeded, InputError, RegistryError
from deletion_sdk.unlearning import (
    Unlearner,
    UnlearnerParams,
    UnlearningContext,
    UnlearningProgress,
    UnlearningResult,
    UnlearningRun,
    create_unlearner,
    get_unlearner,
    list_unlearners,
    register_unlearner,
    run_unlearner,
)
from deletion_sdk.unlearning.methods import Finetune
from deletion_sdk.unlearning.registry import _unregister

from .conftest import TinyTask


class _Noop(Unlearner):
    name = "noop_for_tests"
    description = "Does nothing."
    paper = "none"

    def _run(self, run: UnlearningRun) -> None:
        run.steps += 0


def test_unknown_name_lists_what_is_registered() -> None:
    with pytest.raises(RegistryError) as info:
        get_unlearner("no_such_method")
    message = str(info.value)
    assert "'no_such_method'" in message
    for name in ("finetune", "retrain", "scrub"):
        assert name in message


def test_duplicate_registration_is_refused_unless_forced() -> None:
    class Impostor(Finetune):
        pass

    with pytest.raises(RegistryError, match="already registered"):
        register_unlearner(Impostor)
    assert get_unlearner("finetune") is Finetune
    try:
        assert register_unlearner(Impostor, force=True) is Impostor
        assert get_unlearner("finetune") is Impostor
    finally:
        register_unlearner(Finetune, force=True)
    assert get_unlearner("finetune") is Finetune


def test_register_and_unregister_a_new_method() -> None:
    register_unlearner(_Noop)
    try:
        assert "noop_for_tests" in list_unlearners()
        assert isinstance(create_unlearner("noop_for_tests"), _Noop)
        register_unlearner(_Noop)  # the same class again is a no-op
    finally:
        _unregister("noop_for_tests")
    assert "noop_for_tests" not in list_unlearners()


def test_register_rejects_non_unlearners_and_bad_names() -> None:
    with pytest.raises(RegistryError, match="Unlearner subclass"):
        register_unlearner(int)  # type: ignore[arg-type]

    class Nameless(_Noop):
        name = "not an identifier"

    with pytest.raises(RegistryError, match="identifier"):
        register_unlearner(Nameless)


def test_create_validates_parameters_and_names_the_bad_one() -> None:
    assert create_unlearner("finetune", lr_scale=0.5).params.model_dump()["lr_scale"] == 0.5
    with pytest.raises(InputError, match="'lr_scale'") as info:
        create_unlearner("finetune", lr_scale=-1.0)
    assert "finetune" in str(info.value)
    with pytest.raises(InputError, match="'learning_rate'") as unknown:
        create_unlearner("finetune", learning_rate=0.1)
    assert "lr_scale" in str(unknown.value)  # lists the parameters it does take
    with pytest.raises(InputError, match="'epochs'"):
        create_unlearner("scrub", epochs="many")


@pytest.mark.parametrize("name", list_unlearners())
def test_defaults_are_frozen_and_documented(name: str) -> None:
    cls = get_unlearner(name)
    assert cls.name == name
    assert cls.description and "\n" not in cls.description
    assert cls.paper
    assert cls.__doc__ is None or isinstance(cls.__doc__, str)
    module_doc = __import__(cls.__module__, fromlist=["_"]).__doc__
    assert module_doc and len(module_doc) > 80, f"{name}: module docstring must cite and state the rule"
    params = cls.Params()
    assert isinstance(params, UnlearnerParams)
    field = next(iter(cls.Params.model_fields), None)
    if field is not None:
        with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
            setattr(params, field, None)


def test_context_validation() -> None:
    with pytest.raises(InputError, match="'budget_fraction'"):
        UnlearningContext(budget_fraction=0.1)
    with pytest.raises(InputError, match="'budget_s'"):
        UnlearningContext(budget_s=0)
    with pytest.raises(InputError, match="'seed'"):
        UnlearningContext(seed=-1)
    with pytest.raises(InputError, match="'device'"):
        UnlearningContext(device="tpu:7").resolved_device()
    assert UnlearningContext().resolved_budget_s() is None
    assert UnlearningContext(budget_s=50).resolved_budget_s() == 50
    assert UnlearningContext(retrain_time_s=100, budget_fraction=0.2).resolved_budget_s() == pytest.approx(20)
    both = UnlearningContext(budget_s=10, retrain_time_s=100, budget_fraction=0.2)
    assert both.resolved_budget_s() == 10
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert UnlearningContext(device="auto").resolved_device().type == expected


def test_inputs_are_checked(tiny_task: TinyTask) -> None:
    method = create_unlearner("finetune")
    with pytest.raises(InputError, match="'forget'"):
        method.unlearn(tiny_task.model, forget=tiny_task.forget.take([]), retain=tiny_task.retain)
    with pytest.raises(InputError, match="'retain'"):
        method.unlearn(tiny_task.model, forget=tiny_task.forget, retain="rows")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'model'"):
        method.unlearn("model", forget=tiny_task.forget, retain=tiny_task.retain)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'name_or_instance'"):
        run_unlearner(3, tiny_task.model, forget=tiny_task.forget, retain=tiny_task.retain)  # type: ignore[arg-type]


def test_retrain_requires_the_training_config(tiny_task: TinyTask) -> None:
    with pytest.raises(InputError, match="train_config"):
        run_unlearner(
            "retrain",
            tiny_task.model,
            forget=tiny_task.forget,
            retain=tiny_task.retain,
            context=UnlearningContext(device="cpu"),
        )


def test_result_records_the_run_and_round_trips(tiny_task: TinyTask) -> None:
    reports: list[UnlearningProgress] = []
    result = run_unlearner(
        create_unlearner("finetune", epochs=1),
        tiny_task.model,
        forget=tiny_task.forget,
        retain=tiny_task.retain,
        context=tiny_task.context(progress=reports.append, seed=3),
        params={"lr_scale": 0.2},
    )
    assert isinstance(result, UnlearningResult)
    assert result.params["lr_scale"] == 0.2 and result.params["epochs"] == 1
    assert result.steps == len(reports) > 0
    assert [r.step for r in reports] == list(range(1, result.steps + 1))
    assert all(r.method == "finetune" and r.phase == "retain" for r in reports)
    assert result.seed == 3 and result.device == "cpu" and result.wall_time_s > 0
    record = json.loads(result.model_dump_json())
    assert "model" not in record
    assert record["name"] == "finetune" and record["steps"] == result.steps


def test_budget_stops_between_steps_with_what_was_done(
    tiny_task: TinyTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake clock on the run: each step "takes" 0.4 s, whatever the machine does meanwhile.
    elapsed = [0.0]
    monkeypatch.setattr(UnlearningRun, "elapsed_s", lambda self: elapsed[0])

    def one_step_takes_0_4_s(_: UnlearningProgress) -> None:
        elapsed[0] += 0.4

    with pytest.raises(BudgetExceeded) as info:
        run_unlearner(
            "finetune",
            tiny_task.model,
            forget=tiny_task.forget,
            retain=tiny_task.retain,
            context=tiny_task.context(
                progress=one_step_takes_0_4_s, retrain_time_s=10.0, budget_fraction=0.1
            ),
        )
    # budget 1.0 s: checked before step 3 at 0.8 s (runs), before step 4 at 1.2 s (stops)
    assert info.value.budget_s == pytest.approx(1.0)
    assert info.value.completed_steps == 3
    assert info.value.elapsed_s == pytest.approx(1.2)


def test_estimated_retrain_time_feeds_a_fractional_budget(tiny_task: TinyTask) -> None:
    from deletion_sdk.unlearning import estimate_retrain_time_s

    before = {k: v.clone() for k, v in tiny_task.model.state_dict().items()}
    estimate = estimate_retrain_time_s(
        tiny_task.model, tiny_task.retain, train_config=tiny_task.config, device="cpu", probe_steps=2
    )
    assert 0 < estimate < float("inf")
    assert all(torch.equal(before[k], v) for k, v in tiny_task.model.state_dict().items())
    context = tiny_task.context(retrain_time_s=estimate, budget_fraction=0.5)
    assert context.resolved_budget_s() == pytest.approx(estimate / 2)
    with pytest.raises(InputError, match="'probe_steps'"):
        estimate_retrain_time_s(
            tiny_task.model, tiny_task.retain, train_config=tiny_task.config, probe_steps=0
        )
