"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, inclusion and consistency proofs.

Written once and used by the forget-set manifests (ledger.lineage) and the audit log.

    leaf hash  = SHA-256(0x00 || data)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256()
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Proof generation follows RFC 9162 section 2.1.3.1 (PATH) and 2.1.4.1 (PROOF / SUBPROOF); verification
follows the iterative algorithms of sections 2.1.3.2 and 2.1.4.2. Proofs come in two forms: from a list of
leaf hashes (O(n), used for small trees such as forget-set manifests), and as the *ranges* whose tree hashes
make up the proof (:func:`inclusion_ranges`, :func:`consistency_ranges`), which a store holding every full
subtree hash (level ``l``, index ``i`` covering leaves ``[i * 2**l, (i + 1) * 2**l)``) turns into hashes
with :func:`subtree_cover` and :func:`range_hash` by reading O(log^2 n) stored nodes at most.

Two edge cases the RFC leaves to the caller are fixed here: a consistency proof from size 0 is empty (the
empty tree is a prefix of every tree), and one between equal sizes is empty and holds exactly when both
roots are equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from deletion_sdk.errors import InputError, ProofError

__all__ = [
    "EMPTY_ROOT",
    "MerkleFrontier",
    "Subtree",
    "consistency_proof",
    "consistency_ranges",
    "covers",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "range_hash",
    "root_from_leaf_hashes",
    "subtree_cover",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
_HASH_SIZE = 32

Subtree = tuple[int, int]
"""A full subtree ``(level, index)``: the ``2**level`` leaves from ``index * 2**level``."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 tree head of already-hashed leaves, bottom-up in O(n).

    Pairing adjacent nodes level by level and carrying an odd last node up unchanged
    yields exactly the RFC's recursive split at the largest power of two.
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 9162 Merkle tree hash of raw leaf data."""
    return root_from_leaf_hashes([leaf_hash(d) for d in leaves])


class MerkleFrontier:
    """Streaming tree head: append leaf hashes one at a time, read the root at any size in O(log n).

    Keeps only the roots of the perfect subtrees that make up the tree so far (at most one per bit
    of the size), so a million-leaf log is verified with constant memory and one node hash per leaf
    (amortised).
    """

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []  # perfect-subtree roots, largest (leftmost) first

    @classmethod
    def from_subtrees(cls, size: int, roots: Sequence[bytes]) -> MerkleFrontier:
        """A frontier at ``size`` leaves from the hashes of ``subtree_cover(0, size)``, in that order."""
        if len(roots) != len(subtree_cover(0, size)):
            raise InputError(
                f"The 'roots' parameter must hold one hash per full subtree of a tree of size {size} "
                f"({len(subtree_cover(0, size))}). Got {len(roots)} instead."
            )
        frontier = cls()
        frontier._size = size
        frontier._stack = list(roots)
        return frontier

    def copy(self) -> MerkleFrontier:
        """An independent frontier at the same size."""
        return MerkleFrontier.from_subtrees(self._size, self._stack)

    def append_nodes(self, leaf: bytes) -> list[tuple[Subtree, bytes]]:
        """Append one leaf hash; return the full subtrees of level >= 1 it completes, with their hashes."""
        index = self._size
        node = leaf
        size = self._size
        stack = self._stack
        level = 0
        made: list[tuple[Subtree, bytes]] = []
        while size & 1:
            node = node_hash(stack.pop(), node)
            size >>= 1
            level += 1
            made.append(((level, index >> level), node))
        stack.append(node)
        self._size += 1
        return made

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes) at index ``size``."""
        node = leaf
        size = self._size
        stack = self._stack
        while size & 1:
            node = node_hash(stack.pop(), node)
            size >>= 1
        stack.append(node)
        self._size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far (``EMPTY_ROOT`` when none)."""
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(leaf_hashes: Sequence[bytes]) -> None:
    if not isinstance(leaf_hashes, Sequence) or isinstance(leaf_hashes, bytes | str):
        raise InputError(
            "The 'leaf_hashes' parameter must be a sequence of 32-byte hashes. "
            f"Got {type(leaf_hashes).__name__}."
        )


def _path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 PATH(m, D[n]), returned leaf-to-root."""
    n = len(hashes)
    if n <= 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*_path(m, hashes[:k]), root_from_leaf_hashes(hashes[k:])]
    return [*_path(m - k, hashes[k:]), root_from_leaf_hashes(hashes[:k])]


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[n], b)."""
    n = len(hashes)
    if m == n:
        return [] if complete else [root_from_leaf_hashes(hashes)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), root_from_leaf_hashes(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), root_from_leaf_hashes(hashes[:k])]


def subtree_cover(start: int, size: int) -> list[Subtree]:
    """The full subtrees whose right fold is the RFC 9162 hash of leaves ``[start, start + size)``.

    Largest first: the binary decomposition of ``size`` from ``start``. ``start`` must be a multiple of
    the largest power of two not above ``size``, as it is for every node of an RFC 9162 tree.
    """
    out: list[Subtree] = []
    pos, remaining = start, size
    while remaining:
        level = remaining.bit_length() - 1
        if pos % (1 << level):
            raise InputError(f"The range [{start}, {start + size}) is not a node of an RFC 9162 tree.")
        out.append((level, pos >> level))
        pos += 1 << level
        remaining -= 1 << level
    return out


def range_hash(start: int, size: int, nodes: Mapping[Subtree, bytes]) -> bytes:
    """The RFC 9162 hash of leaves ``[start, start + size)`` from stored full-subtree hashes.

    ``MTH(D[a:b]) = node(F1, node(F2, … Fk))`` where ``F1 … Fk`` are :func:`subtree_cover`'s subtrees.

    Raises:
        KeyError: a needed subtree is not in ``nodes``.
    """
    if size == 0:
        return EMPTY_ROOT
    cover = subtree_cover(start, size)
    node = nodes[cover[-1]]
    for key in reversed(cover[:-1]):
        node = node_hash(nodes[key], node)
    return node


def _path_ranges(m: int, start: int, n: int) -> list[tuple[int, int]]:
    """RFC 9162 PATH(m, D[start:start+n]) as (start, size) ranges, leaf-to-root."""
    if n <= 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*_path_ranges(m, start, k), (start + k, n - k)]
    return [*_path_ranges(m - k, start + k, n - k), (start, k)]


def _subproof_ranges(m: int, start: int, n: int, complete: bool) -> list[tuple[int, int]]:
    """RFC 9162 SUBPROOF(m, D[start:start+n], b) as (start, size) ranges."""
    if m == n:
        return [] if complete else [(start, n)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof_ranges(m, start, k, complete), (start + k, n - k)]
    return [*_subproof_ranges(m - k, start + k, n - k, False), (start, k)]


def _check_size(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"The '{name}' parameter must be an int in [{low}, {high}]. Got {value!r} instead.")


def inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The (start, size) leaf ranges whose hashes form the inclusion proof of ``index`` (leaf-to-root)."""
    _check_size("tree_size", tree_size, 1, 1 << 62)
    _check_size("index", index, 0, tree_size - 1)
    return _path_ranges(index, 0, tree_size)


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The (start, size) leaf ranges whose hashes form the consistency proof from ``old_size``."""
    _check_size("new_size", new_size, 0, 1 << 62)
    _check_size("old_size", old_size, 0, new_size)
    if old_size in (0, new_size):
        return []
    return _subproof_ranges(old_size, 0, new_size, True)


def covers(ranges: Iterable[tuple[int, int]]) -> set[Subtree]:
    """Every full subtree needed to hash ``ranges`` with :func:`range_hash`."""
    return {key for start, size in ranges for key in subtree_cover(start, size)}


def inclusion_proof(leaf_hashes: Sequence[bytes], *, index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaf_hashes`` (RFC 9162 section 2.1.3.1).

    Args:
        leaf_hashes: the leaf hashes of the whole tree, ``[tree_size]`` items of 32 bytes.
        index: 0-based leaf index, ``0 <= index < tree_size``.

    Returns:
        The sibling hashes from the leaf up to the root.

    Raises:
        InputError: ``index`` is out of range.
    """
    _check_hashes(leaf_hashes)
    n = len(leaf_hashes)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise InputError(f"The 'index' parameter must be an int in [0, {n}). Got {index!r} instead.")
    return _path(index, leaf_hashes)


def consistency_proof(leaf_hashes: Sequence[bytes], *, old_size: int) -> list[bytes]:
    """Proof that the tree of the first ``old_size`` leaves is a prefix of the whole tree.

    RFC 9162 section 2.1.4.1 for ``0 < old_size < tree_size``; empty for ``old_size`` 0 or equal to
    the tree size.

    Args:
        leaf_hashes: the leaf hashes of the newer tree, ``[tree_size]`` items.
        old_size: size of the older tree, ``0 <= old_size <= tree_size``.

    Raises:
        InputError: ``old_size`` is out of range.
    """
    _check_hashes(leaf_hashes)
    n = len(leaf_hashes)
    if isinstance(old_size, bool) or not isinstance(old_size, int) or not 0 <= old_size <= n:
        raise InputError(f"The 'old_size' parameter must be an int in [0, {n}]. Got {old_size!r} instead.")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaf_hashes, True)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != _HASH_SIZE:
        raise ProofError(f"The '{name}' must be {_HASH_SIZE} bytes. Got {value!r:.80}.")


def verify_inclusion(*, leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check an inclusion proof (RFC 9162 section 2.1.3.2). Returns nothing; raises on failure.

    Args:
        leaf: the leaf hash (not the raw data).
        index: 0-based index of the leaf.
        tree_size: size of the tree whose head is ``root``.
        proof: the audit path, leaf-to-root.
        root: the expected tree head.

    Raises:
        ProofError: the proof does not lead from ``leaf`` to ``root``.
    """
    _check_hash("leaf", leaf)
    _check_hash("root", root)
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} is outside a tree of size {tree_size}")
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        _check_hash("proof element", p)
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of size {tree_size}")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree ``old_root`` of ``old_size`` is a prefix of ``new_root`` (RFC 9162 2.1.4.2).

    Raises:
        ProofError: the sizes are impossible or the proof does not connect the two roots.
    """
    _check_hash("old_root", old_root)
    _check_hash("new_root", new_root)
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove consistency from size {old_size} to size {new_size}")
    for p in proof:
        _check_hash("proof element", p)
    if old_size == 0:
        if old_root != EMPTY_ROOT:
            raise ProofError("the root of an empty tree must be SHA-256 of nothing")
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    path = list(proof)
    if not path:
        raise ProofError("consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # exact power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    if fr != old_root:
        raise ProofError(f"consistency proof does not reproduce the old root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof does not reproduce the new root of size {new_size}")
