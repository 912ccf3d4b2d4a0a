"""RFC 9162 Merkle roots and proofs against a brute-force reference built from the RFC's definitions."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deletion_sdk.errors import InputError, ProofError
from deletion_sdk.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX = 300


def _data(n: int) -> list[bytes]:
    return [f"leaf-{i}".encode() for i in range(n)]


@cache
def _leaves(n: int) -> tuple[bytes, ...]:
    return tuple(leaf_hash(d) for d in _data(n))


# --- brute-force reference: the RFC's recursive definitions, written out literally ---------------


def _ref_mth(hashes: tuple[bytes, ...]) -> bytes:
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _ref_mth(hashes[:k]) + _ref_mth(hashes[k:])).digest()


def _ref_path(m: int, hashes: tuple[bytes, ...]) -> list[bytes]:
    """Siblings on the way from leaf m to the root, found by walking an explicit tree."""
    n = len(hashes)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_ref_path(m, hashes[:k]), _ref_mth(hashes[k:])]
    return [*_ref_path(m - k, hashes[k:]), _ref_mth(hashes[:k])]


def _ref_subproof(m: int, hashes: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if b else [_ref_mth(hashes)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_ref_subproof(m, hashes[:k], b), _ref_mth(hashes[k:])]
    return [*_ref_subproof(m - k, hashes[k:], False), _ref_mth(hashes[:k])]


# --- roots -----------------------------------------------------------------------------------------


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert MerkleFrontier().root() == EMPTY_ROOT


def test_leaf_and_node_domain_separation() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()


def test_roots_match_reference_for_every_size() -> None:
    frontier = MerkleFrontier()
    all_leaves = _leaves(MAX)
    for n in range(1, MAX + 1):
        frontier.append(all_leaves[n - 1])
        expected = _ref_mth(all_leaves[:n])
        assert root_from_leaf_hashes(all_leaves[:n]) == expected, n
        assert frontier.root() == expected, n
        assert frontier.size == n
    assert merkle_root(_data(MAX)) == _ref_mth(all_leaves)


# --- inclusion -------------------------------------------------------------------------------------


def _indices(n: int) -> list[int]:
    return sorted({0, n // 3, n // 2, n - 2 if n > 1 else 0, n - 1})


def test_inclusion_proofs_match_reference_for_every_size() -> None:
    for n in range(1, MAX + 1):
        leaves = _leaves(n)
        root = _ref_mth(leaves)
        for m in range(n) if n <= 40 else _indices(n):
            proof = inclusion_proof(leaves, index=m)
            assert proof == _ref_path(m, leaves), (n, m)
            verify_inclusion(leaf=leaves[m], index=m, tree_size=n, proof=proof, root=root)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_inclusion_roundtrip_and_tampering(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=MAX), label="size")
    m = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    leaves = _leaves(n)
    root = _ref_mth(leaves)
    proof = inclusion_proof(leaves, index=m)
    assert proof == _ref_path(m, leaves)
    verify_inclusion(leaf=leaves[m], index=m, tree_size=n, proof=proof, root=root)

    other = leaf_hash(b"not in the tree")
    with pytest.raises(ProofError):
        verify_inclusion(leaf=other, index=m, tree_size=n, proof=proof, root=root)
    if proof:
        j = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bad = list(proof)
        bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
        with pytest.raises(ProofError):
            verify_inclusion(leaf=leaves[m], index=m, tree_size=n, proof=bad, root=root)
        with pytest.raises(ProofError):  # truncated
            verify_inclusion(leaf=leaves[m], index=m, tree_size=n, proof=proof[:-1], root=root)
    with pytest.raises(ProofError):  # extended
        verify_inclusion(leaf=leaves[m], index=m, tree_size=n, proof=[*proof, root], root=root)
    if n > 1:
        wrong = (m + 1) % n
        if leaves[wrong] != leaves[m] and _ref_path(wrong, leaves) != proof:
            with pytest.raises(ProofError):
                verify_inclusion(leaf=leaves[m], index=wrong, tree_size=n, proof=proof, root=root)


def test_inclusion_input_errors() -> None:
    leaves = _leaves(5)
    with pytest.raises(InputError, match="'index'"):
        inclusion_proof(leaves, index=5)
    with pytest.raises(InputError, match="'index'"):
        inclusion_proof(leaves, index=-1)
    with pytest.raises(ProofError):
        verify_inclusion(leaf=leaves[0], index=5, tree_size=5, proof=[], root=_ref_mth(leaves))
    with pytest.raises(ProofError):
        verify_inclusion(leaf=b"short", index=0, tree_size=5, proof=[], root=_ref_mth(leaves))


# --- consistency -----------------------------------------------------------------------------------


def _old_sizes(n: int) -> list[int]:
    return sorted({0, 1, n // 2, n - 1, n} | ({k for k in (2, 4, 8, 16, 32, 64, 128, 256) if k <= n}))


def test_consistency_proofs_match_reference_for_every_size() -> None:
    for n in range(1, MAX + 1):
        leaves = _leaves(n)
        new_root = _ref_mth(leaves)
        for m in range(n + 1) if n <= 40 else _old_sizes(n):
            proof = consistency_proof(leaves, old_size=m)
            if 0 < m < n:
                assert proof == _ref_subproof(m, leaves, True), (n, m)
            else:
                assert proof == []
            verify_consistency(
                old_size=m, new_size=n, old_root=_ref_mth(leaves[:m]), new_root=new_root, proof=proof
            )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_consistency_roundtrip_and_tampering(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=MAX), label="new size")
    m = data.draw(st.integers(min_value=1, max_value=n), label="old size")
    leaves = _leaves(n)
    old_root, new_root = _ref_mth(leaves[:m]), _ref_mth(leaves)
    proof = consistency_proof(leaves, old_size=m)
    verify_consistency(old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=proof)

    forged_old = leaf_hash(b"a different history")
    with pytest.raises(ProofError):
        verify_consistency(old_size=m, new_size=n, old_root=forged_old, new_root=new_root, proof=proof)
    with pytest.raises(ProofError):
        verify_consistency(old_size=m, new_size=n, old_root=old_root, new_root=forged_old, proof=proof)
    if proof:
        j = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bad = list(proof)
        bad[j] = bytes([bad[j][0] ^ 0x80]) + bad[j][1:]
        with pytest.raises(ProofError):
            verify_consistency(old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=bad)
        with pytest.raises(ProofError):
            verify_consistency(old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=proof[:-1])


def test_consistency_edge_cases() -> None:
    leaves = _leaves(7)
    root7 = _ref_mth(leaves)
    # size 0 -> anything: empty proof, old root must be the empty-tree root
    assert consistency_proof(leaves, old_size=0) == []
    verify_consistency(old_size=0, new_size=7, old_root=EMPTY_ROOT, new_root=root7, proof=[])
    verify_consistency(old_size=0, new_size=0, old_root=EMPTY_ROOT, new_root=EMPTY_ROOT, proof=[])
    with pytest.raises(ProofError):
        verify_consistency(old_size=0, new_size=7, old_root=root7, new_root=root7, proof=[])
    with pytest.raises(ProofError):
        verify_consistency(old_size=0, new_size=7, old_root=EMPTY_ROOT, new_root=root7, proof=[root7])
    # equal sizes: empty proof, roots must be equal
    assert consistency_proof(leaves, old_size=7) == []
    verify_consistency(old_size=7, new_size=7, old_root=root7, new_root=root7, proof=[])
    with pytest.raises(ProofError, match="two different roots"):
        verify_consistency(old_size=7, new_size=7, old_root=root7, new_root=_ref_mth(leaves[:6]), proof=[])
    with pytest.raises(ProofError):
        verify_consistency(old_size=7, new_size=7, old_root=root7, new_root=root7, proof=[root7])
    # 0 < m < n never has an empty proof
    with pytest.raises(ProofError):
        verify_consistency(old_size=3, new_size=7, old_root=_ref_mth(leaves[:3]), new_root=root7, proof=[])
    # shrinking is never consistent
    with pytest.raises(ProofError):
        verify_consistency(old_size=7, new_size=3, old_root=root7, new_root=_ref_mth(leaves[:3]), proof=[])
    with pytest.raises(InputError, match="'old_size'"):
        consistency_proof(leaves, old_size=8)
