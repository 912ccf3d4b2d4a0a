"""``registered()``: cheats are registered inside the block only; the registry is restored exactly."""

from __future__ import annotations

from typing import Any

import pytest

from deletion_sdk.errors import InputError, RegistryError
from deletion_sdk.redteam import CHEATS, SOURCE, DetectorCheat, NoopCheat, registered
from deletion_sdk.unlearning import (
    Unlearner,
    UnlearnerParams,
    UnlearningRun,
    get_unlearner,
    list_unlearners,
    register_unlearner,
    run_unlearner,
    unlearner_source,
)
from deletion_sdk.unlearning import registry as _registry
from deletion_sdk.unlearning.registry import _unregister

from .conftest import CheatTask


def snapshot() -> dict[str, tuple[type[Unlearner[Any]], str]]:
    return {name: (get_unlearner(name), unlearner_source(name)) for name in list_unlearners()}


class _Squatter(Unlearner["_Squatter.Params"]):
    """An honest method that happens to hold a cheat's name."""

    name = "noop_cheat"
    description = "Holds the name."
    paper = "none"

    class Params(UnlearnerParams):
        pass

    def _run(self, run: UnlearningRun[_Squatter.Params]) -> None:
        run.check_budget()


@pytest.fixture
def squatter() -> Any:
    register_unlearner(_Squatter)
    _registry._SOURCES["noop_cheat"] = "plugin:squatter-dist"  # as load_entry_points records a plugin
    try:
        yield _Squatter
    finally:
        _unregister("noop_cheat")


def test_registers_every_cheat_inside_the_block_only() -> None:
    before = snapshot()
    with registered() as active:
        assert active == CHEATS
        for cls in CHEATS:
            assert get_unlearner(cls.name) is cls
            assert unlearner_source(cls.name) == SOURCE
        assert set(list_unlearners()) == set(before) | {cls.name for cls in CHEATS}
    assert snapshot() == before


def test_restores_a_name_that_was_already_taken(squatter: type[Unlearner[Any]]) -> None:
    before = snapshot()
    with registered(NoopCheat, DetectorCheat):
        assert get_unlearner("noop_cheat") is NoopCheat
        assert get_unlearner("detector_cheat") is DetectorCheat
        assert "temperature_cheat" not in list_unlearners()
    assert snapshot() == before
    assert get_unlearner("noop_cheat") is squatter
    assert unlearner_source("noop_cheat") == "plugin:squatter-dist"


def test_restores_on_an_error(squatter: type[Unlearner[Any]]) -> None:
    before = snapshot()
    with pytest.raises(RuntimeError, match="boom"), registered(NoopCheat):
        raise RuntimeError("boom")
    assert snapshot() == before


def test_cheats_run_by_name_inside_the_block(task: CheatTask) -> None:
    with registered(NoopCheat):
        result = run_unlearner(
            "noop_cheat", task.model, forget=task.forget, retain=task.retain, context=task.context()
        )
    assert result.name == "noop_cheat"
    with pytest.raises(RegistryError, match="noop_cheat"):
        get_unlearner("noop_cheat")


def test_rejects_what_is_not_a_distinct_unlearner() -> None:
    before = snapshot()
    not_a_class: Any = object
    with (
        pytest.raises(InputError, match="'cheats' parameter must hold Unlearner subclasses"),
        registered(NoopCheat, not_a_class),
    ):
        pass
    with pytest.raises(InputError, match="distinct names"), registered(NoopCheat, NoopCheat):
        pass
    assert snapshot() == before


def test_an_unregistrable_class_leaves_nothing_behind() -> None:
    class Nameless(NoopCheat):
        name = "not an identifier"

    before = snapshot()
    with pytest.raises(RegistryError, match="identifier"), registered(NoopCheat, Nameless):
        pass
    assert snapshot() == before
