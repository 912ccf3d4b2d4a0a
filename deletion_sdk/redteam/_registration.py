"""``registered(*cheats)``: put cheats in the unlearner registry for the length of a ``with`` block.

Cheats are never registered by default: the registry's contract suite, every policy and the CLI
would otherwise offer them. Inside the block they are registered (with ``force=True``) under their
own names, with the source ``"redteam"``; on exit, even on an error, each name gets back exactly what
it had before: the previous class and its recorded source, or nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from deletion_sdk.errors import InputError
from deletion_sdk.unlearning import Unlearner
from deletion_sdk.unlearning.registry import registered_for

__all__ = ["SOURCE", "registered"]

SOURCE = "redteam"
"""What ``unlearner_source(name)`` says of a cheat registered by :func:`registered`."""


@contextlib.contextmanager
def registered(*cheats: type[Unlearner[Any]]) -> Iterator[tuple[type[Unlearner[Any]], ...]]:
    """Register ``cheats`` (default: every class of ``CHEATS``) until the ``with`` block ends.

    Args:
        cheats: Unlearner subclasses with distinct names.

    Yields:
        The registered classes, in order.

    Raises:
        InputError: an argument is not an Unlearner subclass, or two share a name.
        RegistryError: a class is not registrable (no name, description or paper); nothing stays
            registered.
    """
    if not cheats:
        from deletion_sdk.redteam import CHEATS

        cheats = CHEATS
    for cls in cheats:
        if not (isinstance(cls, type) and issubclass(cls, Unlearner)):
            raise InputError(f"The 'cheats' parameter must hold Unlearner subclasses. Got {cls!r} instead.")
    names = [getattr(cls, "name", None) for cls in cheats]
    if len(set(names)) != len(names):
        raise InputError(f"The 'cheats' parameter must hold classes with distinct names. Got {names!r}.")
    with registered_for(cheats, source=SOURCE):
        yield tuple(cheats)
