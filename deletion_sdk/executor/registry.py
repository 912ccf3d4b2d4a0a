"""The executor registry: ``local`` and ``ray`` built in, third-party executors through entry points.

The same mechanism as the unlearner registry. A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."deletion_sdk.executors"]
    my_cluster = "my_package.module:MyExecutor"

The group is read once, lazily, the first time the registry is queried; a plugin that fails to import,
is not an :class:`Executor` subclass or clashes with a registered name is skipped with a warning.
"""

from __future__ import annotations

from typing import Any

from deletion_sdk._plugins import PluginRegistry
from deletion_sdk.executor.base import Executor

__all__ = [
    "ENTRY_POINT_GROUP",
    "create_executor",
    "executor_from_settings",
    "get_executor",
    "list_executors",
    "load_entry_points",
    "register_executor",
    "resolve_executor",
]

ENTRY_POINT_GROUP = "deletion_sdk.executors"

# The plugin registry: module-level mutable state, as for unlearners.
_EXECUTORS: PluginRegistry[Executor] = PluginRegistry(
    kind="executor", base=Executor, group=ENTRY_POINT_GROUP, logger="deletion_sdk.executor", article="An"
)


def register_executor(cls: type[Executor], *, force: bool = False) -> type[Executor]:
    """Register ``cls`` under ``cls.name``; usable as a class decorator.

    Raises:
        RegistryError: ``cls`` is not an Executor subclass, lacks a name, or the name is taken.
    """
    return _EXECUTORS.register(cls, force=force)


def _unregister(name: str) -> None:
    """Remove a registration (tests use this to clean up after plugin checks)."""
    _EXECUTORS.unregister(name)


def load_entry_points(*, force: bool = False) -> list[str]:
    """Register the executors of the ``deletion_sdk.executors`` entry-point group; return the new names."""
    return _EXECUTORS.load_entry_points(force=force)


def list_executors() -> list[str]:
    """Sorted names of every registered executor."""
    return _EXECUTORS.names()


def get_executor(name: str) -> type[Executor]:
    """The class registered under ``name``.

    Raises:
        RegistryError: no such name; the message lists what is registered.
    """
    return _EXECUTORS.get(name)


def create_executor(name: str, **options: Any) -> Executor:
    """An instance of the executor ``name`` with ``options`` (e.g. ``workers=2`` for ``ray``).

    Raises:
        RegistryError: unknown name.
        InputError: an option is invalid.
        ConfigurationError: the executor cannot run here (``ray`` without the ray extra).
    """
    return get_executor(name)(**options)


def resolve_executor(executor: str | Executor | None, **options: Any) -> tuple[Executor, bool]:
    """(the executor, whether the caller owns it and must close it) for a name, an instance or None.

    None means ``local``. A name is created with ``options``; an instance is used as it is (its owner
    closes it).
    """
    if isinstance(executor, Executor):
        return executor, False
    return create_executor("local" if executor is None else executor, **options), True


def executor_from_settings(settings: Any) -> Executor:
    """The executor a deployment's settings choose (``DELETION_SDK_EXECUTOR``, ``..._EXECUTOR_WORKERS``).

    Args:
        settings: a :class:`~deletion_sdk.settings.Settings` (anything with ``executor`` and
            ``executor_workers``).

    Raises:
        RegistryError: the setting names no registered executor.
        ConfigurationError: it cannot run here (``ray`` without the ray extra).
    """
    workers = getattr(settings, "executor_workers", None)
    return create_executor(settings.executor, **({"workers": workers} if workers is not None else {}))
