"""Source stores: where a dataset's example files live, and how a person's files are erased from there.

A dataset records the name of the store holding it (``datasets.store``, default ``"local"``). The batch
job's erasure step asks that store to erase the forgotten people's examples, then to verify they are gone;
loaders read example bytes through :meth:`SourceStore.open_bytes`.

Built in: :class:`LocalFileStore` (plain files under the dataset's root directory; erasing deletes them).
Other stores arrive as plugins through the entry-point group ``deletion_sdk.stores``::

    [project.entry-points."deletion_sdk.stores"]
    my_store = "my_package.module:MyStore"

The group is read once, lazily, the first time the registry is queried. A plugin that fails to import, is
not a :class:`SourceStore` subclass, or clashes with a registered name is skipped with a warning.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from deletion_sdk._plugins import PluginRegistry
from deletion_sdk.erasure.records import ArtifactKind, ErasedArtifact, StoredExample
from deletion_sdk.errors import ErasureError, InputError

if TYPE_CHECKING:
    from deletion_sdk.ledger.db import Ledger

__all__ = [
    "DEFAULT_STORE",
    "ENTRY_POINT_GROUP",
    "LocalFileStore",
    "SourceStore",
    "StoreContext",
    "create_store",
    "get_store",
    "list_stores",
    "load_entry_points",
    "register_store",
]

ENTRY_POINT_GROUP = "deletion_sdk.stores"
DEFAULT_STORE = "local"


@dataclass(frozen=True)
class StoreContext:
    """What a store is opened with.

    Attributes:
        root_dir: the dataset's root directory (example paths are relative to it); None for in-memory data.
        home: the SDK's HOME directory (stores that keep managed copies or keys keep them under it).
        ledger: the ledger, for stores that record state (keys, ingested copies) in it.
        master_key: the master key as hex when the settings give it (``DELETION_SDK_MASTER_KEY``); None
            for stores that keep no keys, or to read ``HOME/keys/master.key``.
    """

    root_dir: Path | None
    home: Path
    ledger: Ledger | None = None
    master_key: str | None = field(default=None, repr=False)


class SourceStore(ABC):
    """Holds a dataset's example bytes; can erase a set of examples and prove they are gone.

    Subclasses set ``name`` (an identifier, the key in the registry) and ``description``.
    Every method is idempotent: erasing an example that is already gone is not an error.
    """

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, context: StoreContext) -> None:
        self.context = context

    @abstractmethod
    def open_bytes(self, example: StoredExample) -> bytes:
        """The example's bytes as registered.

        Raises:
            NotFoundError: the example is not (or no longer) in the store.
            IntegrityError: the bytes no longer match ``example.content_digest``.
        """

    @abstractmethod
    def erase(self, examples: Sequence[StoredExample], *, now: datetime) -> list[ErasedArtifact]:
        """Erase ``examples`` from the store.

        Returns:
            One record per artifact erased by this call or found already erased (the caller deduplicates
            by kind and digest, so a resumed erasure never reports an artifact twice).

        Raises:
            ErasureError: an example could not be erased; the message names why. Whatever was erased
                before the failure stays erased.
        """

    @abstractmethod
    def verify_erased(self, examples: Sequence[StoredExample]) -> None:
        """Check that none of ``examples`` can be read from the store any more.

        Raises:
            ErasureError: some example is still readable (the message says how many and why).
        """


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalFileStore(SourceStore):
    """Example files on the local filesystem, under the dataset's root directory; erasing deletes them.

    Besides the listed files, erasure sweeps the dataset root for other copies of the same bytes (same size,
    same SHA-256), so a duplicate under another name does not survive.
    """

    name = DEFAULT_STORE
    description = "files on the local filesystem; erasure deletes them"

    def _resolve(self, example: StoredExample) -> Path | None:
        if example.path is None:
            return None
        path = Path(example.path)
        if path.is_absolute():
            return path
        if self.context.root_dir is None:
            raise ErasureError(
                f"example with content digest {example.content_digest[:12]} has a relative path but its "
                "dataset has no root directory"
            )
        return self.context.root_dir / path

    def open_bytes(self, example: StoredExample) -> bytes:
        """The example's bytes (see :meth:`SourceStore.open_bytes`)."""
        from deletion_sdk.errors import IntegrityError, NotFoundError

        path = self._resolve(example)
        if path is None or not path.is_file():
            raise NotFoundError(f"example with content digest {example.content_digest[:12]} is not stored")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != example.content_digest:
            raise IntegrityError(
                f"example file with content digest {example.content_digest[:12]} changed since registration"
            )
        return data

    def _candidates(self, examples: Sequence[StoredExample]) -> list[tuple[Path, str]]:
        seen: set[Path] = set()
        out: list[tuple[Path, str]] = []
        for example in examples:
            path = self._resolve(example)
            if path is not None and path not in seen:
                seen.add(path)
                out.append((path, example.content_digest))
        return out

    def _delete(self, path: Path, digest: str) -> bool:
        """Delete ``path`` if it holds ``digest``; True when it was deleted, False when already gone."""
        try:
            if not path.exists() and not path.is_symlink():
                return False
            if path.is_symlink() or not path.is_file():
                raise ErasureError(
                    f"the source file with content digest {digest[:12]} is not a regular file; not deleted"
                )
            found = _sha256_file(path)
            if found != digest:
                raise ErasureError(
                    f"the source file registered with content digest {digest[:12]} now holds other bytes "
                    f"({found[:12]}); not deleted: check the dataset folder and erase it by hand"
                )
            path.unlink()
        except OSError as e:
            raise ErasureError(
                f"cannot delete the source file with content digest {digest[:12]}: {e.strerror or e}"
            ) from e
        return True

    def _sweep(self, digests: set[str], sizes: set[int]) -> list[tuple[Path, str]]:
        """Other files under the root with the same bytes as an erased example."""
        root = self.context.root_dir
        if root is None or not root.is_dir() or not sizes:
            return []
        hits: list[tuple[Path, str]] = []
        for dirpath, _dirs, files in os.walk(root):
            for fname in files:
                path = Path(dirpath) / fname
                try:
                    if path.is_symlink() or path.stat().st_size not in sizes:
                        continue
                    digest = _sha256_file(path)
                except OSError:
                    continue
                if digest in digests:
                    hits.append((path, digest))
        return hits

    def erase(self, examples: Sequence[StoredExample], *, now: datetime) -> list[ErasedArtifact]:
        """Delete the examples' files (and other copies of their bytes under the root)."""
        digests = {e.content_digest for e in examples}
        sizes: set[int] = set()
        records: dict[str, ErasedArtifact] = {}
        for path, digest in self._candidates(examples):
            try:
                if path.is_file() and not path.is_symlink():
                    sizes.add(path.stat().st_size)
            except OSError:
                pass
            self._delete(path, digest)
            records.setdefault(
                digest, ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest=digest, erased_at=now)
            )
        for path, digest in self._sweep(digests, sizes):
            self._delete(path, digest)
            records.setdefault(
                digest, ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest=digest, erased_at=now)
            )
        for example in examples:
            if example.path is not None:
                records.setdefault(
                    example.content_digest,
                    ErasedArtifact(
                        kind=ArtifactKind.SOURCE_FILE, digest=example.content_digest, erased_at=now
                    ),
                )
        return sorted(records.values(), key=lambda r: r.digest)

    def verify_erased(self, examples: Sequence[StoredExample]) -> None:
        """Fail if any listed file still exists and holds the example's bytes."""
        remaining = 0
        for path, digest in self._candidates(examples):
            try:
                if path.is_file() and _sha256_file(path) == digest:
                    remaining += 1
            except OSError as e:
                raise ErasureError(f"cannot check a source file: {e.strerror or e}") from e
        if remaining:
            raise ErasureError(f"{remaining} erased source file(s) still exist in the store")


# The store registry: module-level mutable state, as the unlearner registry.
_STORES: PluginRegistry[SourceStore] = PluginRegistry(
    kind="store", base=SourceStore, group=ENTRY_POINT_GROUP, logger="deletion_sdk.erasure"
)


def register_store(cls: type[SourceStore], *, force: bool = False) -> type[SourceStore]:
    """Register ``cls`` under ``cls.name``; usable as a class decorator.

    Raises:
        RegistryError: ``cls`` is not a SourceStore subclass, lacks a name, or the name is taken.
    """
    return _STORES.register(cls, force=force)


def _unregister(name: str) -> None:
    """Remove a registration (tests use this to clean up)."""
    _STORES.unregister(name)


def load_entry_points(*, force: bool = False) -> list[str]:
    """Register the stores of the ``deletion_sdk.stores`` entry-point group; names newly registered."""
    return _STORES.load_entry_points(force=force)


def list_stores() -> list[str]:
    """Sorted names of every registered store."""
    return _STORES.names()


def get_store(name: str) -> type[SourceStore]:
    """The store class registered under ``name``.

    Raises:
        RegistryError: no such name; the message lists what is registered.
    """
    return _STORES.get(name)


def create_store(name: str, context: StoreContext) -> SourceStore:
    """An instance of the store ``name`` opened with ``context``.

    Raises:
        RegistryError: unknown name.
        InputError: ``context`` is not a StoreContext.
    """
    if not isinstance(context, StoreContext):
        raise InputError(
            f"The 'context' parameter must be a StoreContext. Got {type(context).__name__} instead."
        )
    return get_store(name)(context)


register_store(LocalFileStore)
