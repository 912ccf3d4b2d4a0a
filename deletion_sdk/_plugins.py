"""One registry mechanism for the pluggable kinds keyed by a class's own ``name`` (stores, executors).

A :class:`PluginRegistry` holds the classes registered in code and, read once and lazily, those a
distribution declares in the kind's entry-point group. A plugin that fails to import, is not a subclass
of the kind's base class or clashes with a registered name is skipped with a warning. The scan runs under
a lock and is marked done only when it has finished, so a concurrent first lookup waits for it instead of
seeing a half-filled registry.
"""

from __future__ import annotations

import threading
from importlib import metadata
from typing import Generic, TypeVar, cast

from deletion_sdk.errors import RegistryError
from deletion_sdk.logging import get_logger

__all__ = ["PluginRegistry"]

T = TypeVar("T")


class PluginRegistry(Generic[T]):
    """Classes of one pluggable kind, keyed by their ``name`` attribute.

    Args:
        kind: the kind in messages (``"store"``, ``"executor"``).
        base: the class every plugin must subclass (``T`` itself; typed ``type`` so an abstract base fits).
        group: the entry-point group (``deletion_sdk.stores``).
        logger: the logger plugin warnings go to.
        article: ``"A"`` or ``"An"``, before ``kind`` at the start of a sentence.
    """

    def __init__(self, *, kind: str, base: type, group: str, logger: str, article: str = "A") -> None:
        self.kind = kind
        self.base = base
        self.group = group
        self._logger = logger
        self._article = article
        self._classes: dict[str, type[T]] = {}
        self._loaded = False
        self._lock = threading.RLock()

    def registered(self) -> str:
        """The registered names, comma-separated (``none`` when empty), for messages."""
        return ", ".join(sorted(self._classes)) or "none"

    def register(self, cls: type[T], *, force: bool = False) -> type[T]:
        """Register ``cls`` under ``cls.name``; returns it, so it works as a class decorator.

        Raises:
            RegistryError: ``cls`` is not a subclass of the base, lacks a name, or the name is taken.
        """
        base = self.base.__name__
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            an = "an" if base[0] in "AEIOU" else "a"
            raise RegistryError(f"The 'cls' parameter must be {an} {base} subclass. Got {cls!r} instead.")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise RegistryError(
                f"The 'name' attribute of {cls.__qualname__} must be an identifier string. "
                f"Got {name!r} instead."
            )
        existing = self._classes.get(name)
        if existing is not None and existing is not cls and not force:
            raise RegistryError(
                f"{self._article} {self.kind} named '{name}' is already registered ({existing.__module__}."
                f"{existing.__qualname__}); pass force=True to replace it. Registered: {self.registered()}."
            )
        self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a registration (tests use this to clean up)."""
        self._classes.pop(name, None)

    def load_entry_points(self, *, force: bool = False) -> list[str]:
        """Register the classes of the entry-point group; returns the names newly registered."""
        if self._loaded and not force:
            return []
        with self._lock:
            if self._loaded and not force:
                return []
            added = self._scan()
            self._loaded = True
            return added

    def _scan(self) -> list[str]:
        log = get_logger(self._logger)
        event = f"{self.kind}_plugin"
        added: list[str] = []
        for ep in metadata.entry_points(group=self.group):
            dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
            try:
                cls = ep.load()
            except Exception as e:
                log.warning(f"{event}.broken", entry_point=ep.name, dist=dist, error=repr(e))
                continue
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                log.warning(f"{event}.not_a_{self.kind}", entry_point=ep.name, dist=dist, got=repr(cls))
                continue
            if self._classes.get(getattr(cls, "name", "")) is cls:
                continue
            try:
                self.register(cast("type[T]", cls))
            except RegistryError as e:
                log.warning(f"{event}.rejected", entry_point=ep.name, dist=dist, error=str(e))
                continue
            added.append(cls.name)  # type: ignore[attr-defined]
        return added

    def names(self) -> list[str]:
        """Sorted names of every registered class (entry points included)."""
        self.load_entry_points()
        return sorted(self._classes)

    def get(self, name: str) -> type[T]:
        """The class registered under ``name``.

        Raises:
            RegistryError: no such name; the message lists what is registered.
        """
        self.load_entry_points()
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise RegistryError(
                f"The '{self.kind}' parameter must name a registered {self.kind} ({self.registered()}). "
                f"Got {name!r} instead."
            ) from None
