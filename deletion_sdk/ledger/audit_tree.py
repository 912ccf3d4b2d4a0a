"""The audit log's stored subtree hashes (table ``audit_tree_nodes``): written on append, read by proofs.

Level 0 of the RFC 9162 tree is the ``leaf_hash`` column of ``audit_entries``; every full subtree of level
``l >= 1`` (index ``i``, leaves ``[i * 2**l, (i + 1) * 2**l)``) is one row of ``audit_tree_nodes``. An
append of ``k`` entries reads the O(log n) subtrees on the tree's right edge and writes the ``<= k`` new
full subtrees, so a proof or a checkpoint never reads every leaf.

The rows are derived data and are never trusted on their own: inclusion and consistency proofs are checked
against signed roots before they are handed out, and a checkpoint extends the previous signed root. A
table that is missing rows (a log written before revision ``0005_audit_tree`` and not migrated, or rows
removed) is rebuilt by the next append; until then reads recompute the missing subtrees from the leaves.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from deletion_sdk.ledger._rows import one_or_many
from deletion_sdk.ledger._types import table_of
from deletion_sdk.ledger.audit_tables import AuditEntryRow
from deletion_sdk.ledger.audit_tree_tables import AuditTreeNodeRow
from deletion_sdk.merkle import MerkleFrontier, Subtree, root_from_leaf_hashes, subtree_cover

__all__ = ["extend_tree_nodes", "read_subtrees", "rebuild_tree_nodes"]

_nodes = table_of(AuditTreeNodeRow)
_entries = table_of(AuditEntryRow)
_INSERT_NODE = sa.insert(_nodes)
_BATCH = 20_000


def _insert(conn: sa.Connection, made: Sequence[tuple[Subtree, bytes]]) -> None:
    if made:
        conn.execute(
            _INSERT_NODE,
            one_or_many(
                [{"level": level, "node_index": index, "hash": h.hex()} for (level, index), h in made]
            ),
        )


def _fetch(conn: sa.Connection, keys: Collection[Subtree]) -> dict[Subtree, bytes]:
    """The stored hashes of ``keys`` (absent ones are simply not in the result).

    The statements are plain SQL with the integer keys inlined (``int()``: nothing else can reach them):
    building SQLAlchemy expressions for a few dozen keys costs more than running the query.
    """
    by_level: dict[int, list[int]] = {}
    for level, index in keys:
        by_level.setdefault(int(level), []).append(int(index))
    out: dict[Subtree, bytes] = {}
    leaves = by_level.pop(0, None)
    if leaves:
        rows = conn.exec_driver_sql(
            "SELECT entry_index, leaf_hash FROM audit_entries WHERE entry_index IN "
            f"({','.join(map(str, leaves))})"
        )
        out.update({(0, int(r[0])): bytes.fromhex(r[1]) for r in rows})
    if by_level:
        clause = " OR ".join(
            f"(level = {level} AND node_index IN ({','.join(map(str, indexes))}))"
            for level, indexes in by_level.items()
        )
        nodes = conn.exec_driver_sql(f"SELECT level, node_index, hash FROM audit_tree_nodes WHERE {clause}")
        out.update({(int(r[0]), int(r[1])): bytes.fromhex(r[2]) for r in nodes})
    return out


def _from_leaves(conn: sa.Connection, key: Subtree) -> bytes | None:
    level, index = key
    lo, hi = index << level, (index + 1) << level
    values = (
        conn.execute(
            sa.select(_entries.c.leaf_hash)
            .where((_entries.c.entry_index >= lo) & (_entries.c.entry_index < hi))
            .order_by(_entries.c.entry_index)
        )
        .scalars()
        .all()
    )
    if len(values) != hi - lo:
        return None
    return root_from_leaf_hashes([bytes.fromhex(v) for v in values])


def read_subtrees(conn: sa.Connection, keys: Collection[Subtree]) -> dict[Subtree, bytes]:
    """The hashes of the full subtrees ``keys`` (stored rows; missing ones recomputed from the leaves).

    A subtree whose leaves are not all stored is left out of the result (the caller names it).
    """
    out = _fetch(conn, keys)
    for key in keys:
        if key not in out:
            value = _from_leaves(conn, key)
            if value is not None:
                out[key] = value
    return out


def rebuild_tree_nodes(conn: sa.Connection) -> int:
    """Recompute every stored subtree from the leaf hashes of ``audit_entries`` (one pass); return n."""
    conn.execute(sa.delete(_nodes))
    frontier = MerkleFrontier()
    pending: list[tuple[Subtree, bytes]] = []
    # Per statement: Connection.execution_options() would switch the whole connection (and Alembic's later
    # statements) to server-side cursors on PostgreSQL.
    result = conn.execute(
        sa.select(_entries.c.leaf_hash).order_by(_entries.c.entry_index),
        execution_options={"yield_per": _BATCH},
    )
    for leaf in result.scalars():
        pending.extend(frontier.append_nodes(bytes.fromhex(leaf)))
        if len(pending) >= _BATCH:
            _insert(conn, pending)
            pending = []
    _insert(conn, pending)
    return frontier.size


def extend_tree_nodes(
    conn: sa.Connection, old_size: int, leaves: Sequence[bytes], *, frontier: MerkleFrontier | None = None
) -> MerkleFrontier:
    """Store the full subtrees completed by appending ``leaves`` to a tree of ``old_size`` entries.

    Call after the entries themselves were inserted (in the same transaction). ``frontier`` is the right
    edge of the old tree when the caller knows it (the store caches it per head); otherwise it is read from
    the table. When that edge is not stored (a log not yet backfilled), the whole table is rebuilt instead.

    Returns:
        The right edge of the new tree.
    """
    if frontier is None or frontier.size != old_size:
        cover = subtree_cover(0, old_size)
        stored = _fetch(conn, cover)
        if len(stored) != len(cover):
            rebuild_tree_nodes(conn)
            stored = _fetch(conn, subtree_cover(0, old_size + len(leaves)))
            return MerkleFrontier.from_subtrees(
                old_size + len(leaves), [stored[k] for k in subtree_cover(0, old_size + len(leaves))]
            )
        frontier = MerkleFrontier.from_subtrees(old_size, [stored[k] for k in cover])
    made: list[tuple[Subtree, bytes]] = []
    for leaf in leaves:
        made.extend(frontier.append_nodes(leaf))
    _insert(conn, made)
    return frontier
