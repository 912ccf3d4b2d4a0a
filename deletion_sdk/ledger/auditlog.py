"""SQL storage of the audit log: the only place the log's rows are read and written.

The log logic (event canonicalisation, hashing, proofs, checkpoint signing, verification) lives in
:mod:`deletion_sdk.audit`; it drives this store through callbacks that run while the head row is locked:

* :meth:`SqlAuditStore.append` locks the head, hands the current (size, chain hash) to ``build``, which
  returns the rows to insert (numbered from that size), inserts them and advances the head - all in the
  caller's transaction when ``session`` is given, so an event commits or rolls back with the state change
  it records.
* :meth:`SqlAuditStore.add_checkpoint` locks the head the same way, so two signers cannot interleave.
* Every append also stores the full subtree hashes it completes (:mod:`deletion_sdk.ledger.audit_tree`),
  which :meth:`SqlAuditStore.subtrees` reads back for O(log n) proofs and checkpoints.

Locking: on PostgreSQL ``SELECT … FOR UPDATE`` on the single ``audit_head`` row; on SQLite the write
session is ``BEGIN IMMEDIATE`` (see :class:`~deletion_sdk.ledger.db.Ledger`), which already serialises
writers. Pass only write sessions (``ledger.session()``, the default) to these methods.

Reads for verification run in one snapshot (:meth:`SqlAuditStore.snapshot`): ``REPEATABLE READ`` on
PostgreSQL, a deferred read transaction on SQLite (WAL), so concurrent appends cannot make a consistent log
look torn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.errors import IntegrityError
from deletion_sdk.ledger._rows import one_or_many
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.audit_tables import AuditCheckpointRow, AuditEntryRow, AuditHeadRow
from deletion_sdk.ledger.audit_tree import extend_tree_nodes, read_subtrees, rebuild_tree_nodes
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.merkle import MerkleFrontier, Subtree

__all__ = [
    "ZERO_CHAIN",
    "AuditEntryRecord",
    "AuditHead",
    "CheckpointRecord",
    "SqlAuditStore",
]

ZERO_CHAIN = "0" * 64
_RUN_VERIFY = "run `deletion-sdk audit verify`"
_HEAD_ID = 1

_entries = table_of(AuditEntryRow)
_checkpoints = table_of(AuditCheckpointRow)
_head = table_of(AuditHeadRow)

# Built once: appends are hot, and re-building statements costs more than running them on SQLite.
_SELECT_HEAD = sa.select(_head.c.size, _head.c.chain_hash).where(_head.c.id == _HEAD_ID)
_SELECT_HEAD_FOR_UPDATE = _SELECT_HEAD.with_for_update()
_INSERT_ENTRY = sa.insert(_entries)
_UPDATE_HEAD = (
    sa.update(_head)
    .where(_head.c.id == _HEAD_ID)
    .values(
        size=sa.bindparam("new_size"),
        chain_hash=sa.bindparam("new_chain"),
        updated_at=sa.bindparam("now", type_=_head.c.updated_at.type),
    )
)


@dataclass(frozen=True, slots=True)
class AuditEntryRecord:
    """One stored entry. ``event`` is the RFC 8785 text; hashes are lowercase hex."""

    index: int
    event: str
    leaf_hash: str
    chain_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """One stored signed checkpoint."""

    tree_size: int
    root_hash: str
    note: str
    key_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The recorded log size and the chain hash of its last entry (``ZERO_CHAIN`` when empty)."""

    size: int
    chain_hash: str


class SqlAuditStore:
    """Audit-log rows in the ledger database (SQLite or PostgreSQL).

    Args:
        ledger: the ledger whose schema is at revision ``0002_audit`` or newer.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        # the tree's right edge after the last append through this store, keyed by the head it produced:
        # reused only when the locked head is exactly that one (a rollback or another writer changes it)
        self._edge: tuple[AuditHead, MerkleFrontier] | None = None

    # -- transactions ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self, session: Session | None, *, write: bool) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.ledger.session(write=write) as own:
                yield own

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session that sees one consistent state of the log for all its queries."""
        engine = self.ledger.engine
        options: dict[str, Any] = {} if self.ledger.is_sqlite else {"isolation_level": "REPEATABLE READ"}
        with engine.connect().execution_options(**options) as conn, conn.begin() as tx:
            with Session(bind=conn) as session:
                yield session
            tx.rollback()

    def _lock_head(self, conn: sa.Connection) -> AuditHead:
        stmt = _SELECT_HEAD if self.ledger.is_sqlite else _SELECT_HEAD_FOR_UPDATE
        row = conn.execute(stmt).first()
        if row is None:  # a schema made by metadata.create_all rather than the migration
            conn.execute(
                sa.insert(_head).values(id=_HEAD_ID, size=0, chain_hash=ZERO_CHAIN, updated_at=utcnow())
            )
            row = conn.execute(stmt).first()
            if row is None:  # pragma: no cover - the insert above makes this impossible
                raise IntegrityError("the audit log head row could not be created")
        return AuditHead(size=int(row[0]), chain_hash=str(row[1]))

    # -- writes ------------------------------------------------------------------------------------

    def append(
        self,
        build: Callable[[AuditHead], Sequence[AuditEntryRecord]],
        *,
        session: Session | None = None,
    ) -> list[AuditEntryRecord]:
        """Lock the head, let ``build`` make the next rows, insert them, advance the head.

        Raises:
            IntegrityError: ``build`` returned rows not numbered ``head.size, head.size + 1, …``.
        """
        with self._tx(session, write=True) as s:
            conn = s.connection()  # Core, not the ORM: appends are hot
            head = self._lock_head(conn)
            rows = list(build(head))
            if not rows:
                return []
            for offset, row in enumerate(rows):
                if row.index != head.size + offset:
                    raise IntegrityError(
                        f"audit rows must continue the log at index {head.size + offset}; got {row.index}"
                    )
            conn.execute(
                _INSERT_ENTRY,
                one_or_many(
                    [
                        {
                            "entry_index": r.index,
                            "event": r.event,
                            "leaf_hash": r.leaf_hash,
                            "chain_hash": r.chain_hash,
                            "created_at": r.created_at,
                        }
                        for r in rows
                    ]
                ),
            )
            cached = self._edge[1].copy() if self._edge is not None and self._edge[0] == head else None
            edge = extend_tree_nodes(
                conn, head.size, [bytes.fromhex(r.leaf_hash) for r in rows], frontier=cached
            )
            self._edge = (AuditHead(head.size + len(rows), rows[-1].chain_hash), edge)
            conn.execute(
                _UPDATE_HEAD,
                {"new_size": head.size + len(rows), "new_chain": rows[-1].chain_hash, "now": utcnow()},
            )
            return rows

    def rebuild_tree(self) -> int:
        """Recompute the stored subtree hashes from the leaf hashes (one pass); returns the log size."""
        with self._tx(None, write=True) as s:
            conn = s.connection()
            self._lock_head(conn)
            return rebuild_tree_nodes(conn)

    def add_checkpoint(
        self,
        build: Callable[[AuditHead, CheckpointRecord | None, Session], CheckpointRecord | None],
        *,
        session: Session | None = None,
    ) -> CheckpointRecord | None:
        """Lock the head, let ``build`` sign a checkpoint given the head and the latest stored one, store it.

        ``build`` may return None (nothing new to sign); the latest checkpoint is then returned.
        """
        with self._tx(session, write=True) as s:
            head = self._lock_head(s.connection())
            latest = self.latest_checkpoint(session=s)
            record = build(head, latest, s)
            if record is None:
                return latest
            s.execute(
                sa.insert(_checkpoints).values(
                    tree_size=record.tree_size,
                    root_hash=record.root_hash,
                    note=record.note,
                    key_id=record.key_id,
                    created_at=record.created_at,
                )
            )
            return record

    def after_commit(self, session: Session | None, action: Callable[[], None]) -> None:
        """Run ``action`` once ``session``'s transaction has committed; at once when ``session`` is None
        (the store's own transaction has committed already). Never run when the transaction rolls back."""
        if session is None:
            action()
            return
        sa.event.listen(session, "after_commit", lambda _s: action(), once=True)

    # -- reads -------------------------------------------------------------------------------------

    def head(self, *, session: Session | None = None) -> AuditHead:
        """The recorded size and last chain hash (not locked)."""
        with self._tx(session, write=False) as s:
            row = s.execute(sa.select(_head.c.size, _head.c.chain_hash).where(_head.c.id == _HEAD_ID)).first()
            return AuditHead(size=0, chain_hash=ZERO_CHAIN) if row is None else AuditHead(int(row[0]), row[1])

    def entry(self, index: int, *, session: Session | None = None) -> AuditEntryRecord | None:
        """The entry stored at ``index``, or None."""
        with self._tx(session, write=False) as s:
            row = s.execute(sa.select(_entries).where(_entries.c.entry_index == index)).first()
            if row is None:
                return None
            return AuditEntryRecord(
                index=int(row.entry_index),
                event=row.event,
                leaf_hash=row.leaf_hash,
                chain_hash=row.chain_hash,
                created_at=row.created_at,
            )

    def iter_rows(
        self,
        *,
        start: int = 0,
        stop: int | None = None,
        batch_size: int = 50_000,
        with_created_at: bool = False,
        session: Session | None = None,
    ) -> Iterator[Sequence[Any]]:
        """Stream stored rows in index order as batches of tuples.

        Each tuple is ``(entry_index, event, leaf_hash, chain_hash)`` (plus ``created_at`` when asked).
        Rows are read with one ordered query, fetched ``batch_size`` at a time (a server-side cursor on
        PostgreSQL), so memory stays bounded for millions of entries.
        """
        columns = [_entries.c.entry_index, _entries.c.event, _entries.c.leaf_hash, _entries.c.chain_hash]
        if with_created_at:
            columns.append(_entries.c.created_at)
        stmt = sa.select(*columns).where(_entries.c.entry_index >= start).order_by(_entries.c.entry_index)
        if stop is not None:
            stmt = stmt.where(_entries.c.entry_index < stop)
        with self._tx(session, write=False) as s:
            result = s.execute(stmt, execution_options={"yield_per": batch_size})
            yield from result.partitions(batch_size)

    def leaf_hashes(self, *, stop: int, session: Session | None = None) -> list[bytes]:
        """Stored leaf hashes of entries ``0 .. stop-1`` (as bytes), in index order.

        Indexes are a primary key, so ``stop`` rows with ``0 <= index < stop`` are exactly ``0 .. stop-1``.

        Raises:
            IntegrityError: an index in that range is missing (naming the first one).
        """
        in_range = (_entries.c.entry_index >= 0) & (_entries.c.entry_index < stop)
        with self._tx(session, write=False) as s:
            conn = s.connection()
            values = (
                conn.execute(sa.select(_entries.c.leaf_hash).where(in_range).order_by(_entries.c.entry_index))
                .scalars()
                .all()
            )
            if len(values) != stop:
                present = conn.execute(
                    sa.select(_entries.c.entry_index).where(in_range).order_by(_entries.c.entry_index)
                ).scalars()
                missing = next((i for i, index in enumerate(present) if index != i), len(values))
                raise IntegrityError(f"audit log entry {missing} is missing; {_RUN_VERIFY}")
        return list(map(bytes.fromhex, values))

    def subtrees(self, keys: Collection[Subtree], *, session: Session | None = None) -> dict[Subtree, bytes]:
        """Hashes of the full subtrees ``keys`` ((level, index); level 0 = leaf hashes).

        Subtrees whose leaves are not all stored are absent from the result.
        """
        with self._tx(session, write=False) as s:
            return read_subtrees(s.connection(), keys)

    def checkpoints(self, *, since: int = -1, session: Session | None = None) -> list[CheckpointRecord]:
        """Every stored checkpoint of more than ``since`` entries (default: all), by tree size."""
        with self._tx(session, write=False) as s:
            rows = s.execute(
                sa.select(_checkpoints)
                .where(_checkpoints.c.tree_size > since)
                .order_by(_checkpoints.c.tree_size)
            ).all()
        return [_checkpoint(r) for r in rows]

    def latest_checkpoint(self, *, session: Session | None = None) -> CheckpointRecord | None:
        """The stored checkpoint with the largest tree size, or None."""
        with self._tx(session, write=False) as s:
            row = s.execute(
                sa.select(_checkpoints).order_by(_checkpoints.c.tree_size.desc()).limit(1)
            ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint_at(self, tree_size: int, *, session: Session | None = None) -> CheckpointRecord | None:
        """The stored checkpoint of exactly ``tree_size`` entries, or None."""
        with self._tx(session, write=False) as s:
            row = s.execute(sa.select(_checkpoints).where(_checkpoints.c.tree_size == tree_size)).first()
        return None if row is None else _checkpoint(row)

    def checkpoint_covering(self, size: int, *, session: Session | None = None) -> CheckpointRecord | None:
        """The smallest stored checkpoint whose tree holds at least ``size`` entries, or None."""
        with self._tx(session, write=False) as s:
            row = s.execute(
                sa.select(_checkpoints)
                .where(_checkpoints.c.tree_size >= size)
                .order_by(_checkpoints.c.tree_size)
                .limit(1)
            ).first()
        return None if row is None else _checkpoint(row)


def _checkpoint(row: Any) -> CheckpointRecord:
    return CheckpointRecord(
        tree_size=int(row.tree_size),
        root_hash=row.root_hash,
        note=row.note,
        key_id=row.key_id,
        created_at=row.created_at,
    )
