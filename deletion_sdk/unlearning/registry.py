"""The unlearner registry: built-ins register on import, third-party methods through entry points.

A third-party distribution declares, in its ``pyproject.toml``::

    [project.entry-points."deletion_sdk.unlearners"]
    my_method = "my_package.module:MyUnlearner"

The group is read once, lazily, the first time the registry is queried. A plugin that fails to
import, is not an :class:`Unlearner` subclass, or clashes with a registered name is skipped with a
warning; it never breaks the registry.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import Any

from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError, RegistryError
from deletion_sdk.logging import get_logger
from deletion_sdk.unlearning.base import Unlearner, UnlearningContext, UnlearningResult

__all__ = [
    "ENTRY_POINT_GROUP",
    "create_unlearner",
    "get_unlearner",
    "list_unlearners",
    "load_entry_points",
    "register_unlearner",
    "run_unlearner",
    "unlearner_source",
]

ENTRY_POINT_GROUP = "deletion_sdk.unlearners"
_BUILTIN_PACKAGE = "deletion_sdk.unlearning.methods."

# The plugin registry: the only module-level mutable state of the package.
_REGISTRY: dict[str, type[Unlearner]] = {}
_SOURCES: dict[str, str] = {}
_ENTRY_POINTS_LOCK = threading.RLock()
_entry_points_loaded = False


def _registered() -> str:
    return ", ".join(sorted(_REGISTRY)) or "none"


def register_unlearner(cls: type[Unlearner], *, force: bool = False) -> type[Unlearner]:
    """Register ``cls`` under ``cls.name``; usable as a class decorator.

    Args:
        cls: an :class:`Unlearner` subclass with ``name``, ``description`` and ``paper`` set.
        force: replace an existing registration of the same name.

    Returns:
        ``cls``, unchanged.

    Raises:
        RegistryError: ``cls`` is not a concrete Unlearner, lacks a name, or the name is taken.
    """
    if not (isinstance(cls, type) and issubclass(cls, Unlearner)):
        raise RegistryError(f"The 'cls' parameter must be an Unlearner subclass. Got {cls!r} instead.")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise RegistryError(
            f"The 'name' attribute of {cls.__qualname__} must be an identifier string. Got {name!r} instead."
        )
    for attr in ("description", "paper"):
        if not isinstance(getattr(cls, attr, None), str):
            raise RegistryError(f"The '{attr}' attribute of {cls.__qualname__} must be a string.")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls and not force:
        raise RegistryError(
            f"An unlearner named '{name}' is already registered ({existing.__module__}."
            f"{existing.__qualname__}); pass force=True to replace it. Registered: {_registered()}."
        )
    if existing is not cls:  # a replacement is named for what it is, not for what it replaced
        _SOURCES.pop(name, None)
    _REGISTRY[name] = cls
    _SOURCES.setdefault(name, "builtin" if cls.__module__.startswith(_BUILTIN_PACKAGE) else cls.__module__)
    return cls


def _unregister(name: str) -> None:
    """Remove a registration (tests use this to clean up after plugin checks)."""
    _REGISTRY.pop(name, None)
    _SOURCES.pop(name, None)


@contextlib.contextmanager
def registered_for(classes: Sequence[type[Unlearner]], *, source: str) -> Iterator[None]:
    """Register ``classes`` (replacing by name, recorded with ``source``) until the block ends.

    On exit, even on an error, every name gets back exactly what it had before: the previous class and
    its recorded source, or nothing. Entry points are read first, so a plugin loaded lazily inside the
    block cannot be lost on exit.

    Raises:
        RegistryError: a class is not registrable; nothing stays registered.
    """
    load_entry_points()
    names = [n for n in (getattr(cls, "name", None) for cls in classes) if isinstance(n, str)]
    saved = {name: (_REGISTRY.get(name), _SOURCES.get(name)) for name in names}
    try:
        for cls in classes:
            register_unlearner(cls, force=True)
            _SOURCES[cls.name] = source
        yield
    finally:
        for name, (previous, previous_source) in saved.items():
            _unregister(name)
            if previous is not None:
                _REGISTRY[name] = previous
            if previous_source is not None:
                _SOURCES[name] = previous_source


def load_entry_points(*, force: bool = False) -> list[str]:
    """Register the unlearners of the ``deletion_sdk.unlearners`` entry-point group.

    Called lazily by the lookup functions; call it with ``force=True`` to rescan after installing a
    plugin into a running process.

    Returns:
        Names newly registered by this call.
    """
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return []
    with _ENTRY_POINTS_LOCK:  # a second thread waits for the scan instead of seeing a half-filled registry
        if _entry_points_loaded and not force:
            return []
        added = _scan_entry_points()
        _entry_points_loaded = True
        return added


def _scan_entry_points() -> list[str]:
    log = get_logger("deletion_sdk.unlearning")
    added: list[str] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist_obj = getattr(ep, "dist", None)
        dist = getattr(dist_obj, "name", None) or "unknown distribution"
        dist_version = getattr(dist_obj, "version", None)
        try:
            cls = ep.load()
        except Exception as e:
            log.warning("unlearner_plugin.broken", entry_point=ep.name, dist=dist, error=repr(e))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Unlearner)):
            log.warning("unlearner_plugin.not_an_unlearner", entry_point=ep.name, dist=dist, got=repr(cls))
            continue
        if _REGISTRY.get(getattr(cls, "name", "")) is cls:
            continue
        try:
            register_unlearner(cls)
        except RegistryError as e:
            log.warning("unlearner_plugin.rejected", entry_point=ep.name, dist=dist, error=str(e))
            continue
        _SOURCES[cls.name] = f"plugin:{dist}" + (f"=={dist_version}" if dist_version else "")
        added.append(cls.name)
    return added


def list_unlearners() -> list[str]:
    """Sorted names of every registered unlearner (built-in and plugin)."""
    load_entry_points()
    return sorted(_REGISTRY)


def get_unlearner(name: str) -> type[Unlearner]:
    """The class registered under ``name``.

    Raises:
        RegistryError: no such name; the message lists what is registered.
    """
    load_entry_points()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise RegistryError(
            f"The 'name' parameter must name a registered unlearner ({_registered()}). Got {name!r} instead."
        ) from None


def unlearner_source(name: str) -> str:
    """``"builtin"``, ``"plugin:<distribution>"`` or the defining module of a registered unlearner."""
    get_unlearner(name)
    return _SOURCES.get(name, "unknown")


def create_unlearner(name: str, **params: Any) -> Unlearner:
    """An instance of the unlearner ``name`` with ``params`` overriding its defaults.

    Raises:
        RegistryError: unknown name.
        InputError: a parameter is unknown or invalid (the message names it).
    """
    return get_unlearner(name)(**params)


def run_unlearner(
    name_or_instance: str | Unlearner,
    model: nn.Module,
    *,
    forget: FaceTensors,
    retain: FaceTensors,
    context: UnlearningContext | None = None,
    params: dict[str, Any] | None = None,
) -> UnlearningResult:
    """Run an unlearner by name (or instance) and return the model with the run's record.

    Args:
        name_or_instance: a registered name, or an :class:`Unlearner` instance.
        model: the model to unlearn from; not modified.
        forget: examples to forget.
        retain: examples to keep.
        context: device, seed, budget, progress, original training configuration.
        params: parameter overrides (merged over the instance's parameters when an instance is given).

    Returns:
        The :class:`UnlearningResult`.
    """
    if isinstance(name_or_instance, Unlearner):
        unlearner = name_or_instance
        if params:
            merged = {**unlearner.params.model_dump(), **params}
            unlearner = type(unlearner)(**merged)
    elif isinstance(name_or_instance, str):
        unlearner = create_unlearner(name_or_instance, **(params or {}))
    else:
        raise InputError(
            "The 'name_or_instance' parameter must be a registered name or an Unlearner. "
            f"Got {type(name_or_instance).__name__} instead."
        )
    return unlearner.run(model, forget=forget, retain=retain, context=context)
