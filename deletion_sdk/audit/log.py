"""The tamper-evident audit log: append events, prove inclusion and consistency, sign checkpoints.

Every state change of requests, jobs, model versions, certificates and policies is appended as an
:class:`~deletion_sdk.audit.events.AuditEvent`; entry ``i`` is leaf ``i`` of an RFC 9162 Merkle tree.
Signed checkpoints (C2SP tlog-checkpoint notes) commit to the tree head; the signer refuses to sign a head
that is not an extension of the last stored checkpoint.

``append`` can join the caller's ledger transaction (``session=``) so that a state change and its event
commit or roll back together; concurrent appenders are serialised by the store's head lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from deletion_sdk._fs import atomic_writer
from deletion_sdk.attest.certificate import AuditRecord
from deletion_sdk.attest.keys import Signer
from deletion_sdk.audit.checkpoint import DEFAULT_ORIGIN, Checkpoint, open_checkpoint, parse_checkpoint
from deletion_sdk.audit.checkpoint import sign_checkpoint as _sign_checkpoint
from deletion_sdk.audit.events import (
    AuditEvent,
    NewEvent,
    check_no_personal_data,
    event_bytes,
    event_seq,
    format_instant,
)
from deletion_sdk.audit.store import AuditEntryRecord, AuditHead, AuditStore, CheckpointRecord, SqlAuditStore
from deletion_sdk.errors import (
    AuditLogError,
    ConfigurationError,
    InputError,
    IntegrityError,
    NotFoundError,
    ProofError,
    SignatureError,
)
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.logging import get_logger
from deletion_sdk.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

__all__ = ["AuditEntry", "AuditLog", "ConsistencyProof", "InclusionProof", "SignedCheckpoint"]


class AuditEntry(BaseModel):
    """One entry of the log."""

    model_config = ConfigDict(frozen=True)

    index: int
    leaf_hash: str
    chain_hash: str
    created_at: datetime
    event: AuditEvent


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of one entry in the tree of ``tree_size`` entries."""

    model_config = ConfigDict(frozen=True)

    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: tuple[str, ...]
    checkpoint: str | None = None  # the signed note of this tree head, when one is stored
    event: AuditEvent | None = None


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof between two tree sizes of the log."""

    model_config = ConfigDict(frozen=True)

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: tuple[str, ...]


class SignedCheckpoint(BaseModel):
    """A stored checkpoint: the tree head and its signed note."""

    model_config = ConfigDict(frozen=True)

    checkpoint: Checkpoint
    note: str
    key_id: str
    created_at: datetime

    @property
    def tree_size(self) -> int:
        return self.checkpoint.tree_size

    @property
    def root_hash(self) -> str:
        return self.checkpoint.root_hash


def _signed(record: CheckpointRecord) -> SignedCheckpoint:
    return SignedCheckpoint(
        checkpoint=parse_checkpoint(record.note),
        note=record.note,
        key_id=record.key_id,
        created_at=record.created_at,
    )


def _entry(record: AuditEntryRecord) -> AuditEntry:
    return AuditEntry(
        index=record.index,
        leaf_hash=record.leaf_hash,
        chain_hash=record.chain_hash,
        created_at=record.created_at,
        event=AuditEvent.model_validate_json(record.event),
    )


class AuditLog:
    """The audit log over a ledger (or any :class:`~deletion_sdk.audit.store.AuditStore`).

    Args:
        store: a :class:`~deletion_sdk.ledger.db.Ledger` or an audit store.
        signer: the log key; needed to sign checkpoints only.
        origin: the log's name in its checkpoints (also the signed-note key name).
    """

    def __init__(
        self, store: Ledger | AuditStore, *, signer: Signer | None = None, origin: str = DEFAULT_ORIGIN
    ) -> None:
        self.store: AuditStore = SqlAuditStore(store) if isinstance(store, Ledger) else store
        self.signer = signer
        Checkpoint(origin=origin, tree_size=0, root_hash="0" * 64)  # validates the origin
        self.origin = origin

    # -- appending ---------------------------------------------------------------------------------

    def append(
        self,
        event_type: str,
        data: Mapping[str, JsonValue] | None = None,
        *,
        actor: str,
        at: datetime | None = None,
        session: Any = None,
    ) -> AuditEntry:
        """Append one event.

        Args:
            event_type: dotted name such as ``request.received``.
            data: ids, digests and subject references only (see :mod:`deletion_sdk.audit.events`).
            actor: the service account, job or role that caused the event.
            at: when it happened (default: now).
            session: a write session of the ledger to join (commit and rollback are the caller's). The log
                head stays locked until that transaction ends, so append near the end of it; checkpoints
                signed inside it count as published only once it commits.

        Returns:
            The stored entry with its index and leaf hash.

        Raises:
            InputError: bad type, actor or data (including keys named like raw identifiers).
        """
        return self.append_many([self._new(event_type, data, actor=actor, at=at)], session=session)[0]

    def append_many(self, events: Sequence[NewEvent], *, session: Any = None) -> list[AuditEntry]:
        """Append several events in one transaction, numbered consecutively."""
        events = [e if isinstance(e, NewEvent) else NewEvent.model_validate(e) for e in events]
        for e in events:
            check_no_personal_data(e.data)
        now = utcnow()

        def build(head: AuditHead) -> list[AuditEntryRecord]:
            chain = bytes.fromhex(head.chain_hash)
            rows = []
            for offset, e in enumerate(events):
                event = AuditEvent(
                    seq=head.size + offset,
                    type=e.type,
                    at=format_instant(e.at or now),
                    actor=e.actor,
                    data=e.data,
                )
                raw = event_bytes(event)
                leaf = leaf_hash(raw)
                chain = hashlib.sha256(chain + leaf).digest()
                rows.append(
                    AuditEntryRecord(
                        index=head.size + offset,
                        event=raw.decode("utf-8"),
                        leaf_hash=leaf.hex(),
                        chain_hash=chain.hex(),
                        created_at=now,
                    )
                )
            return rows

        if not events:
            return []
        stored = self.store.append(build, session=session)
        return [_entry(r) for r in stored]

    @staticmethod
    def _new(event_type: str, data: Mapping[str, Any] | None, *, actor: str, at: datetime | None) -> NewEvent:
        try:
            return NewEvent(type=event_type, data=dict(data or {}), actor=actor, at=at)
        except ValueError as e:
            raise InputError(f"Invalid audit event: {e}") from e

    # -- reading -----------------------------------------------------------------------------------

    def size(self, *, session: Any = None) -> int:
        """Number of entries recorded by the log head."""
        return self.store.head(session=session).size

    def entry(self, index: int, *, session: Any = None) -> AuditEntry:
        """The entry at ``index``.

        Raises:
            NotFoundError: no such entry.
        """
        record = self.store.entry(index, session=session)
        if record is None:
            raise NotFoundError(f"no audit log entry {index}")
        return _entry(record)

    def entries(self, *, start: int = 0, stop: int | None = None) -> Iterator[AuditEntry]:
        """Entries in index order (streamed)."""
        with self.store.snapshot() as s:
            for batch in self.store.iter_rows(start=start, stop=stop, with_created_at=True, session=s):
                for index, event, leaf, chain, created_at in batch:
                    yield _entry(AuditEntryRecord(int(index), event, leaf, chain, created_at))

    def _leaves(self, size: int, session: Any) -> list[bytes]:
        try:
            return self.store.leaf_hashes(stop=size, session=session)
        except IntegrityError as e:
            raise AuditLogError(str(e)) from e

    def _size_arg(self, size: int | None, head: int, name: str = "size") -> int:
        if size is None:
            return head
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= head:
            raise InputError(f"The '{name}' parameter must be an int in [0, {head}]. Got {size!r} instead.")
        return size

    def root(self, size: int | None = None) -> str:
        """Hex RFC 9162 root of the first ``size`` entries (default: all)."""
        with self.store.snapshot() as s:
            n = self._size_arg(size, self.store.head(session=s).size)
            return root_from_leaf_hashes(self._leaves(n, s)).hex()

    def inclusion_proof(self, index: int, *, size: int | None = None) -> InclusionProof:
        """Prove entry ``index`` is in the tree of ``size`` entries.

        By default the tree is that of the latest signed checkpoint when it covers the entry (its note is
        attached), otherwise the whole current log (no checkpoint attached).

        Raises:
            NotFoundError: ``index`` is not in the tree.
        """
        with self.store.snapshot() as s:
            head = self.store.head(session=s).size
            signed: CheckpointRecord | None = None
            if size is None:
                latest = self.store.latest_checkpoint(session=s)
                if latest is not None and latest.tree_size > index:
                    size, signed = latest.tree_size, latest
                else:
                    size = head
            else:
                size = self._size_arg(size, head)
                at = self.store.checkpoint_covering(size, session=s)
                signed = at if at is not None and at.tree_size == size else None
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
                raise NotFoundError(f"audit log entry {index} is not in the tree of size {size}")
            leaves = self._leaves(size, s)
            record = self.store.entry(index, session=s)
        proof = inclusion_proof(leaves, index=index)
        # against the signed root when a checkpoint covers this size (proves the stored leaves still match it)
        root = bytes.fromhex(signed.root_hash) if signed is not None else root_from_leaf_hashes(leaves)
        note = signed.note if signed is not None else None
        try:
            verify_inclusion(leaf=leaves[index], index=index, tree_size=size, proof=proof, root=root)
        except ProofError as e:
            raise AuditLogError(
                f"the stored leaf hashes no longer lead to the checkpoint of size {size}; "
                "run `deletion-sdk audit verify`",
                index=index,
            ) from e
        return InclusionProof(
            index=index,
            tree_size=size,
            leaf_hash=leaves[index].hex(),
            root_hash=root.hex(),
            proof=tuple(p.hex() for p in proof),
            checkpoint=note,
            event=None if record is None else AuditEvent.model_validate_json(record.event),
        )

    def consistency_proof(self, old_size: int, *, new_size: int | None = None) -> ConsistencyProof:
        """Prove that the log at ``old_size`` is a prefix of the log at ``new_size`` (default: now)."""
        with self.store.snapshot() as s:
            head = self.store.head(session=s).size
            n = self._size_arg(new_size, head, "new_size")
            m = self._size_arg(old_size, n, "old_size")
            leaves = self._leaves(n, s)
        proof = consistency_proof(leaves, old_size=m)
        return ConsistencyProof(
            old_size=m,
            new_size=n,
            old_root=root_from_leaf_hashes(leaves[:m]).hex(),
            new_root=root_from_leaf_hashes(leaves).hex(),
            proof=tuple(p.hex() for p in proof),
        )

    # -- checkpoints -------------------------------------------------------------------------------

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every stored checkpoint, by tree size."""
        return [_signed(r) for r in self.store.checkpoints()]

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The stored checkpoint of the largest tree, or None."""
        record = self.store.latest_checkpoint()
        return None if record is None else _signed(record)

    def checkpoint(self, *, session: Any = None) -> SignedCheckpoint:
        """Sign and store a checkpoint of the log as it is now (reusing the latest one if nothing changed).

        Raises:
            ConfigurationError: the log has no signer.
            AuditLogError: the current log is not an extension of the last stored checkpoint (entries were
                removed or changed), so signing would contradict it; nothing is signed.
        """
        signer = self.signer
        if signer is None:
            raise ConfigurationError(
                "signing a checkpoint needs the log's signing key (AuditLog(signer=...))"
            )

        def build(head: AuditHead, latest: CheckpointRecord | None, s: Any) -> CheckpointRecord | None:
            if latest is not None and latest.tree_size == head.size:
                same = self._leaves(head.size, s)
                self._check_previous(latest, signer, same, root_from_leaf_hashes(same))
                return None
            if latest is not None and latest.tree_size > head.size:
                raise AuditLogError(
                    f"refusing to sign: the log holds {head.size} entries but a checkpoint of "
                    f"{latest.tree_size} entries was signed before (entries were removed)",
                    index=head.size,
                )
            leaves = self._leaves(head.size, s)
            root = root_from_leaf_hashes(leaves)
            if latest is not None:
                self._check_previous(latest, signer, leaves, root)
            self._check_new_entries(latest.tree_size if latest is not None else 0, leaves, s)
            checkpoint = Checkpoint(origin=self.origin, tree_size=head.size, root_hash=root.hex())
            return CheckpointRecord(
                tree_size=head.size,
                root_hash=root.hex(),
                note=_sign_checkpoint(checkpoint, signer=signer),
                key_id=signer.key_id,
                created_at=utcnow(),
            )

        record = self.store.add_checkpoint(build, session=session)
        if record is None:  # pragma: no cover - build returns a record whenever none is stored
            raise AuditLogError("no checkpoint was stored")
        get_logger(__name__).info("audit.checkpoint", tree_size=record.tree_size, root_hash=record.root_hash)
        return _signed(record)

    def _check_new_entries(self, start: int, leaves: list[bytes], session: Any) -> None:
        """Refuse unless every entry not yet under a checkpoint hashes to its stored leaf, in sequence."""
        for batch in self.store.iter_rows(start=start, stop=len(leaves), session=session):
            for index, event, _leaf, _chain in batch:
                raw = event.encode("utf-8")
                if leaf_hash(raw) != leaves[index]:
                    raise AuditLogError(
                        f"refusing to sign: audit log entry {index} does not hash to its stored leaf hash",
                        index=int(index),
                    )
                if event_seq(event) != index:
                    raise AuditLogError(
                        f"refusing to sign: audit log entry {index} is out of place", index=int(index)
                    )

    def _check_previous(
        self, latest: CheckpointRecord, signer: Signer, leaves: list[bytes], root: bytes
    ) -> None:
        """Refuse unless the tree of ``leaves`` (whose root is ``root``) extends the checkpoint ``latest``."""
        try:
            if latest.key_id == signer.key_id:
                previous = open_checkpoint(latest.note, verifier=signer.public_key, origin=self.origin)
            else:  # signed by an earlier key: its signature is checked by verify_audit_log with that key
                previous = parse_checkpoint(latest.note)
        except SignatureError as e:
            raise AuditLogError(
                f"refusing to sign: the stored checkpoint of {latest.tree_size} entries does not verify: {e}"
            ) from e
        if previous.tree_size != latest.tree_size or previous.root_hash != latest.root_hash:
            raise AuditLogError(
                f"refusing to sign: the stored checkpoint row of size {latest.tree_size} "
                "differs from its signed note"
            )
        new_size = len(leaves)
        try:
            verify_consistency(
                old_size=previous.tree_size,
                new_size=new_size,
                old_root=previous.root,
                new_root=root,
                proof=consistency_proof(leaves, old_size=previous.tree_size),
            )
        except ProofError as e:
            raise AuditLogError(
                f"refusing to sign: the log of {new_size} entries is not consistent with the checkpoint of "
                f"{previous.tree_size} entries signed before ({e}); run `deletion-sdk audit verify`"
            ) from e

    def audit_record(self, index: int, *, session: Any = None) -> AuditRecord:
        """The certificate's audit section for entry ``index``: a fresh signed checkpoint and the proof.

        Signs (or reuses) a checkpoint of the whole current log, then proves ``index`` against it.
        """
        signed = self.checkpoint(session=session)
        if not 0 <= index < signed.tree_size:
            raise NotFoundError(f"audit log entry {index} is not in the log of size {signed.tree_size}")
        if session is None:
            proof = self.inclusion_proof(index, size=signed.tree_size)
            event = proof.event
        else:  # the caller's transaction may hold rows not yet visible to a new snapshot
            leaves = self._leaves(signed.tree_size, session)
            record = self.store.entry(index, session=session)
            proof = InclusionProof(
                index=index,
                tree_size=signed.tree_size,
                leaf_hash=leaves[index].hex(),
                root_hash=root_from_leaf_hashes(leaves).hex(),
                proof=tuple(p.hex() for p in inclusion_proof(leaves, index=index)),
            )
            event = None if record is None else AuditEvent.model_validate_json(record.event)
        return AuditRecord(
            tree_size=signed.tree_size,
            root_hash=signed.root_hash,
            entry_index=index,
            leaf_hash=proof.leaf_hash,
            inclusion_proof=proof.proof,
            checkpoint=signed.note,
            event=None if event is None else event.model_dump(mode="json"),
        )

    # -- export ------------------------------------------------------------------------------------

    def export_jsonl(self, path: Path | str) -> int:
        """Write every entry, then every checkpoint, as JSON lines to ``path`` (atomically).

        Lines: ``{"kind": "entry", "index", "leaf_hash", "chain_hash", "created_at", "event"}`` and
        ``{"kind": "checkpoint", "tree_size", "root_hash", "key_id", "note"}``.

        Returns:
            The number of entries written.
        """
        count = 0
        with atomic_writer(path, text=True) as f, self.store.snapshot() as s:
            for batch in self.store.iter_rows(with_created_at=True, session=s):
                for index, event, leaf, chain, created_at in batch:
                    line = {
                        "kind": "entry",
                        "index": int(index),
                        "leaf_hash": leaf,
                        "chain_hash": chain,
                        "created_at": created_at.isoformat() if created_at else None,
                        "event": json.loads(event),
                    }
                    f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                    count += 1
            for cp in self.store.checkpoints(session=s):
                line = {
                    "kind": "checkpoint",
                    "tree_size": cp.tree_size,
                    "root_hash": cp.root_hash,
                    "key_id": cp.key_id,
                    "note": cp.note,
                }
                f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        return count
