"""Offline check of a consistency proof between two signed checkpoints (``audit consistency --verify``).

The proof file (a :class:`~deletion_sdk.audit.log.ConsistencyProof`) carries both signed tree heads. The
check needs nothing but the log's public key: both notes must be signed by a trusted key and state the
sizes and roots the proof names, and the RFC 9162 proof must lead from the old root to the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from deletion_sdk.attest.keys import Verifier
from deletion_sdk.audit.checkpoint import Checkpoint, open_checkpoint
from deletion_sdk.audit.log import ConsistencyProof
from deletion_sdk.errors import AuditLogError, ProofError, SignatureError
from deletion_sdk.merkle import EMPTY_ROOT, verify_consistency

__all__ = ["ConsistencyEvidence", "verify_consistency_proof"]


class ConsistencyEvidence(BaseModel):
    """Evidence that the older signed tree head is a prefix of the newer one."""

    model_config = ConfigDict(frozen=True)

    old_size: int
    new_size: int
    old_root: str
    new_root: str


def _open(note: str | None, size: int, root: str, keys: Sequence[Verifier], which: str) -> Checkpoint | None:
    if note is None:
        if size == 0 and root == EMPTY_ROOT.hex():
            return None
        raise AuditLogError(f"the {which} tree head of {size} entries carries no signed checkpoint")
    last: Exception | None = None
    for key in keys:
        try:
            checkpoint = open_checkpoint(note, verifier=key)
        except SignatureError as e:
            last = e
            continue
        if checkpoint.tree_size != size or checkpoint.root_hash != root:
            raise AuditLogError(f"the {which} signed checkpoint states another size or root than the proof")
        return checkpoint
    raise AuditLogError(f"the {which} checkpoint has no valid signature by a trusted key: {last}") from last


def verify_consistency_proof(
    proof: ConsistencyProof, *, public_keys: Sequence[Verifier]
) -> ConsistencyEvidence:
    """Check ``proof`` offline against the trusted log keys.

    Raises:
        AuditLogError: a tree head is unsigned, signed by an untrusted key, or disagrees with the proof,
            or the proof does not connect the two roots.
    """
    _open(proof.old_checkpoint, proof.old_size, proof.old_root, public_keys, "old")
    _open(proof.new_checkpoint, proof.new_size, proof.new_root, public_keys, "new")
    try:
        verify_consistency(
            old_size=proof.old_size,
            new_size=proof.new_size,
            old_root=bytes.fromhex(proof.old_root),
            new_root=bytes.fromhex(proof.new_root),
            proof=[bytes.fromhex(p) for p in proof.proof],
        )
    except (ProofError, ValueError) as e:
        raise AuditLogError(f"the consistency proof does not hold: {e}") from e
    return ConsistencyEvidence(
        old_size=proof.old_size, new_size=proof.new_size, old_root=proof.old_root, new_root=proof.new_root
    )
