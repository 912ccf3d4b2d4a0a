"""Unlearners that exist only for tests: registered by a fixture for one test, then removed again.

They are kept out of the registry at collection time on purpose: the contract suite, parametrised over
the registry, would otherwise (rightly) fail them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun, register_unlearner
from deletion_sdk.unlearning.registry import _unregister

__all__ = ["UnchangedModel", "registered"]


class UnchangedModel(Unlearner["UnchangedModel.Params"]):
    """Returns the model exactly as it was: forgets nothing, in no time.

    Under a policy that asks every approximate method for a qualification report (and none exists for
    this method), its decision fails on every run, whatever the data: the deterministic way to drive a
    job down the decide -> next method path.
    """

    name = "unchanged_model_test"
    description = "Test only: returns the model unchanged."
    paper = "none"
    version = "1"

    class Params(UnlearnerParams):
        pass

    def _run(self, run: UnlearningRun[UnchangedModel.Params]) -> None:
        return None


@contextmanager
def registered(*classes: type[Unlearner]) -> Iterator[None]:
    """Register ``classes`` for the duration of the block."""
    for cls in classes:
        register_unlearner(cls, force=True)
    try:
        yield
    finally:
        for cls in classes:
            _unregister(cls.name)
