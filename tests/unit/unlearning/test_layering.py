"""Module layering of the unlearning package, and methods generic in their parameters.

The imports go ``base -> _run -> _types`` and never back: ``_run`` and ``_types`` must not import the
``Unlearner`` base, not even inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest
from pydantic import Field

import deletion_sdk.unlearning as unlearning_pkg
from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun, get_unlearner, list_unlearners
from deletion_sdk.unlearning import methods as methods_pkg

from .conftest import TinyTask

PACKAGE = Path(unlearning_pkg.__file__).parent

# What each lower module must never import: the base, or the package (whose __init__ imports the base).
FORBIDDEN = {
    "_types.py": {"deletion_sdk.unlearning", "deletion_sdk.unlearning.base", "deletion_sdk.unlearning._run"},
    "_run.py": {"deletion_sdk.unlearning", "deletion_sdk.unlearning.base"},
}


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = ["deletion_sdk", "unlearning"][: 3 - node.level]
                module = ".".join([*parts, node.module] if node.module else parts)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import base`
    return found


@pytest.mark.parametrize("filename", sorted(FORBIDDEN))
def test_lower_modules_do_not_import_the_base(filename: str) -> None:
    imported = _imported_modules(PACKAGE / filename)
    assert not imported & FORBIDDEN[filename], f"{filename} imports {sorted(imported & FORBIDDEN[filename])}"


BUILTINS = [n for n in list_unlearners() if get_unlearner(n).__module__.startswith(methods_pkg.__name__)]


@pytest.mark.parametrize("name", BUILTINS)
def test_builtins_are_generic_in_their_own_params(name: str) -> None:
    cls = get_unlearner(name)
    (base,) = [b for b in cls.__orig_bases__ if typing.get_origin(b) is Unlearner]  # type: ignore[attr-defined]
    (arg,) = typing.get_args(base)
    assert isinstance(arg, typing.ForwardRef)
    assert arg.__forward_arg__ == f"{cls.__name__}.Params"
    assert "params_as" not in inspect.getsource(cls)  # run.params is already typed


class _Legacy(Unlearner):  # a third-party method written before Unlearner was generic
    name = "legacy_for_tests"
    description = "Reads its parameters through run.params_as."
    paper = "none"

    class Params(UnlearnerParams):
        steps: int = Field(default=3, ge=0)

    seen: typing.ClassVar[list[int]] = []

    def _run(self, run: UnlearningRun) -> None:
        self.seen.append(run.params_as(self.Params).steps)
        with pytest.raises(TypeError, match="not _Other"):
            run.params_as(_Other)


class _Other(UnlearnerParams):
    pass


def test_bare_unlearner_subclasses_still_work_through_params_as(tiny_task: TinyTask) -> None:
    _Legacy.seen.clear()
    _Legacy(steps=5).run(
        tiny_task.model, forget=tiny_task.forget, retain=tiny_task.retain, context=tiny_task.context()
    )
    assert _Legacy.seen == [5]
