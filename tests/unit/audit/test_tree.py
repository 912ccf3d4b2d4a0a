"""O(log n) proofs from stored subtree hashes, checked against the from-scratch tree computation.

Property tests (hypothesis) compare the range form of RFC 9162 proofs with the leaf-list form; store tests
append in uneven batches and compare every stored node, proof and root with a recomputation from the
leaves; backfill tests cover logs written before revision ``0005_audit_tree``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st

from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, NewEvent, verify_audit_log
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.merkle import (
    MerkleFrontier,
    Subtree,
    consistency_proof,
    consistency_ranges,
    covers,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    range_hash,
    root_from_leaf_hashes,
    subtree_cover,
    verify_consistency,
    verify_inclusion,
)

SUBJECT_REF = "3" * 64


@cache
def _leaves(n: int) -> tuple[bytes, ...]:
    return tuple(leaf_hash(f"leaf-{i}".encode()) for i in range(n))


def _all_subtrees(leaves: tuple[bytes, ...]) -> dict[Subtree, bytes]:
    """Every full subtree hash of the tree, computed directly from its leaves."""
    nodes: dict[Subtree, bytes] = {}
    level = 0
    while (1 << level) <= len(leaves):
        size = 1 << level
        for index in range(len(leaves) // size):
            nodes[(level, index)] = root_from_leaf_hashes(leaves[index * size : (index + 1) * size])
        level += 1
    return nodes


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_inclusion_ranges_give_the_rfc_proof(n: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, n - 1))
    leaves = _leaves(n)
    ranges = inclusion_ranges(index, n)
    nodes = _all_subtrees(leaves)
    assert covers(ranges) <= set(nodes)
    proof = [range_hash(a, size, nodes) for a, size in ranges]
    assert proof == inclusion_proof(list(leaves), index=index)
    verify_inclusion(leaf=leaves[index], index=index, tree_size=n, proof=proof, root=range_hash(0, n, nodes))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 300), data=st.data())
def test_consistency_ranges_give_the_rfc_proof(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(0, n))
    leaves = _leaves(n)
    nodes = _all_subtrees(leaves)
    proof = [range_hash(a, size, nodes) for a, size in consistency_ranges(m, n)]
    assert proof == consistency_proof(list(leaves), old_size=m)
    verify_consistency(
        old_size=m,
        new_size=n,
        old_root=root_from_leaf_hashes(leaves[:m]),
        new_root=root_from_leaf_hashes(leaves),
        proof=proof,
    )


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 300), extra=st.integers(0, 70))
def test_a_frontier_from_stored_subtrees_extends_like_the_tree(n: int, extra: int) -> None:
    leaves = _leaves(n + extra)
    nodes = _all_subtrees(leaves[:n])
    frontier = MerkleFrontier.from_subtrees(n, [nodes[k] for k in subtree_cover(0, n)])
    assert frontier.root() == root_from_leaf_hashes(leaves[:n])
    made: dict[Subtree, bytes] = {}
    for leaf in leaves[n:]:
        made.update(frontier.append_nodes(leaf))
    assert frontier.root() == root_from_leaf_hashes(leaves)
    every = _all_subtrees(leaves)
    assert made == {k: v for k, v in every.items() if k[0] >= 1 and k not in nodes}


def _append(log: AuditLog, n: int, start: int) -> None:
    log.append_many(
        [
            NewEvent(
                type="request.received", data={"request_id": f"r{i}", "subject_ref": SUBJECT_REF}, actor="svc"
            )
            for i in range(start, start + n)
        ]
    )


def _stored_nodes(ledger: Ledger) -> dict[Subtree, str]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, node_index, hash FROM audit_tree_nodes")).all()
    return {(int(r[0]), int(r[1])): r[2] for r in rows}


def _leaf_hashes(ledger: Ledger) -> tuple[bytes, ...]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT leaf_hash FROM audit_entries ORDER BY entry_index")).scalars()
        return tuple(bytes.fromhex(h) for h in rows)


def _expected_nodes(ledger: Ledger) -> dict[Subtree, str]:
    return {k: v.hex() for k, v in _all_subtrees(_leaf_hashes(ledger)).items() if k[0] >= 1}


def test_appends_store_every_full_subtree_and_proofs_match_the_leaves(
    ledger: Ledger, log_key: Ed25519Signer
) -> None:
    log = AuditLog(ledger, signer=log_key)
    total = 0
    for batch in (1, 2, 5, 1, 8, 13, 3, 31, 1):  # uneven batches cross many subtree boundaries
        _append(log, batch, total)
        total += batch
        assert _stored_nodes(ledger) == _expected_nodes(ledger)
        if total % 2:
            log.checkpoint()
    leaves = list(_leaf_hashes(ledger))
    assert log.root() == root_from_leaf_hashes(leaves).hex()
    for size in (1, 7, 16, 33, total):
        assert log.root(size) == root_from_leaf_hashes(leaves[:size]).hex()
        for index in {0, size // 2, size - 1}:
            proof = log.inclusion_proof(index, size=size)
            assert [bytes.fromhex(p) for p in proof.proof] == inclusion_proof(leaves[:size], index=index)
        for old in {0, 1, size // 3, size}:
            c = log.consistency_proof(old, new_size=size)
            assert [bytes.fromhex(p) for p in c.proof] == consistency_proof(leaves[:size], old_size=old)
    assert verify_audit_log(ledger, public_keys=log_key.public_key).tree_size == total


def test_a_log_without_stored_subtrees_still_proves_and_is_rebuilt_on_the_next_append(
    ledger: Ledger, log_key: Ed25519Signer
) -> None:
    log = AuditLog(ledger, signer=log_key)
    _append(log, 21, 0)
    first = log.checkpoint()
    with ledger.engine.begin() as conn:  # as after an upgrade that did not backfill
        conn.execute(sa.text("DELETE FROM audit_tree_nodes"))
    log = AuditLog(ledger, signer=log_key)  # a new process: nothing cached
    leaves = list(_leaf_hashes(ledger))
    proof = log.inclusion_proof(5)  # recomputed from the leaves, checked against the signed root
    assert proof.checkpoint == first.note
    assert [bytes.fromhex(p) for p in proof.proof] == inclusion_proof(leaves, index=5)
    _append(log, 6, 21)  # the next append rebuilds the table
    assert _stored_nodes(ledger) == _expected_nodes(ledger)
    assert log.checkpoint().root_hash == root_from_leaf_hashes(list(_leaf_hashes(ledger))).hex()


def test_the_migration_backfills_a_log_written_by_an_earlier_version(tmp_path: Path) -> None:
    source = Ledger.open(f"sqlite:///{tmp_path}/source.db", create=True)
    log = AuditLog(source)
    _append(log, 45, 0)
    with source.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM audit_entries")).all()]
        head = dict(conn.execute(sa.text("SELECT * FROM audit_head")).one()._mapping)
    expected = _stored_nodes(source)
    source.dispose()

    url = f"sqlite:///{tmp_path}/earlier.db"
    Ledger.open(url, create=True).dispose()
    earlier = Ledger.open(url)
    with earlier.engine.begin() as conn:  # back to the schema of revision 0004: no subtree table
        command.downgrade(earlier._alembic_config(conn), "0004_erasure")
    assert "audit_tree_nodes" not in sa.inspect(earlier.engine).get_table_names()
    with earlier.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_head"))
        conn.execute(
            sa.text(
                "INSERT INTO audit_entries (entry_index, event, leaf_hash, chain_hash, created_at) "
                "VALUES (:entry_index, :event, :leaf_hash, :chain_hash, :created_at)"
            ),
            rows,
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit_head (id, size, chain_hash, updated_at) "
                "VALUES (:id, :size, :chain_hash, :updated_at)"
            ),
            head,
        )
    earlier.upgrade()
    assert _stored_nodes(earlier) == expected == _expected_nodes(earlier)
    assert AuditLog(earlier).root() == root_from_leaf_hashes(list(_leaf_hashes(earlier))).hex()
    earlier.dispose()
