"""The storage protocol the audit log runs against (implemented by the ledger's SqlAuditStore)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from deletion_sdk.ledger.auditlog import AuditEntryRecord, AuditHead, CheckpointRecord, SqlAuditStore
from deletion_sdk.merkle import Subtree

__all__ = ["AuditEntryRecord", "AuditHead", "AuditStore", "CheckpointRecord", "SqlAuditStore"]


@runtime_checkable
class AuditStore(Protocol):
    """Append-only storage of entries and checkpoints, with a lockable head.

    ``session`` arguments are opaque transaction handles of the store (SQLModel sessions for the SQL
    store); None means the store opens and commits its own transaction.
    """

    def snapshot(self) -> AbstractContextManager[Any]:
        """A read transaction that sees one consistent state."""
        ...

    def append(
        self, build: Callable[[AuditHead], Sequence[AuditEntryRecord]], *, session: Any = None
    ) -> list[AuditEntryRecord]: ...

    def add_checkpoint(
        self,
        build: Callable[[AuditHead, CheckpointRecord | None, Any], CheckpointRecord | None],
        *,
        session: Any = None,
    ) -> CheckpointRecord | None: ...

    def head(self, *, session: Any = None) -> AuditHead: ...

    def entry(self, index: int, *, session: Any = None) -> AuditEntryRecord | None: ...

    def iter_rows(
        self,
        *,
        start: int = 0,
        stop: int | None = None,
        batch_size: int = 50_000,
        with_created_at: bool = False,
        session: Any = None,
    ) -> Iterator[Sequence[Any]]: ...

    def leaf_hashes(self, *, stop: int, session: Any = None) -> list[bytes]: ...

    def subtrees(self, keys: Collection[Subtree], *, session: Any = None) -> dict[Subtree, bytes]:
        """Hashes of full subtrees ``(level, index)``; level 0 is the leaf hash. Absent when not stored."""
        ...

    def checkpoints(self, *, since: int = -1, session: Any = None) -> list[CheckpointRecord]: ...

    def checkpoint_at(self, tree_size: int, *, session: Any = None) -> CheckpointRecord | None: ...

    def after_commit(self, session: Any, action: Callable[[], None]) -> None:
        """Run ``action`` once ``session``'s transaction commits (at once when ``session`` is None)."""
        ...

    def latest_checkpoint(self, *, session: Any = None) -> CheckpointRecord | None: ...

    def checkpoint_covering(self, size: int, *, session: Any = None) -> CheckpointRecord | None: ...
