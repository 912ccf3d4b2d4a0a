"""Merkle leaves of dataset examples: the bytes hashed for forget sets, dataset and training roots.

A leaf is the RFC 8785 (JCS) canonical JSON array ``[example_id, content_digest]`` in UTF-8, e.g.
``["ex-000017","9f86d0…"]``, written by :func:`deletion_sdk.attest.jcs.canonical_string_array` (the same
encoder as every other hashed byte string). A root is the RFC 9162 tree head over the leaves in
``example_id`` code-point order (:mod:`deletion_sdk.merkle`).
"""

from __future__ import annotations

from collections.abc import Iterable

from deletion_sdk.attest.jcs import canonical_string_array
from deletion_sdk.merkle import leaf_hash, root_from_leaf_hashes

__all__ = ["leaf_bytes", "leaves_root"]


def leaf_bytes(example_id: str, content_digest: str) -> bytes:
    """RFC 8785 canonical JSON of ``[example_id, content_digest]`` (UTF-8).

    Raises:
        InputError: an argument is not a string, or holds a lone surrogate.
    """
    return canonical_string_array(example_id, content_digest)


def leaves_root(pairs: Iterable[tuple[str, str]]) -> str:
    """Hex RFC 9162 root over ``(example_id, content_digest)`` leaves, in the order given.

    Args:
        pairs: the leaves, already sorted by example id (``sorted(pairs)`` does it).

    Returns:
        The root as 64 hex digits (the empty tree's root when there are no pairs).
    """
    return root_from_leaf_hashes([leaf_hash(canonical_string_array(i, d)) for i, d in pairs]).hex()
