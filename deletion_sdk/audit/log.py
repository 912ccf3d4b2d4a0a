"""The tamper-evident audit log: append events, prove inclusion and consistency, sign checkpoints.

Every state change of requests, jobs, model versions, certificates and policies is appended as an
:class:`~deletion_sdk.audit.events.AuditEvent`; entry ``i`` is leaf ``i`` of an RFC 9162 Merkle tree.
Signed checkpoints (C2SP tlog-checkpoint notes) commit to the tree head; the signer refuses to sign a head
that is not an extension of the last stored checkpoint, or that the witness contradicts
(:mod:`deletion_sdk.audit.witness`). The store keeps every full subtree hash, so proofs and checkpoints
read O(log n) rows (:mod:`deletion_sdk.ledger.audit_tree`).

``append`` can join the caller's ledger transaction (``session=``) so that a state change and its event
commit or roll back together; concurrent appenders are serialised by the store's head lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from deletion_sdk.attest.certificate import AuditRecord
from deletion_sdk.attest.keyring import Keyring
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
from deletion_sdk.audit.witness import WitnessedCheckpoint, WitnessStore
from deletion_sdk.errors import (
    AuditLogError,
    ConfigurationError,
    InputError,
    NotFoundError,
    ProofError,
    SignatureError,
)
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.logging import get_logger
from deletion_sdk.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    Subtree,
    consistency_ranges,
    covers,
    inclusion_ranges,
    leaf_hash,
    range_hash,
    subtree_cover,
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
    old_checkpoint: str | None = None  # the signed note of the old tree head, when one is stored
    new_checkpoint: str | None = None


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
        witness: where every signed checkpoint is also appended, outside the database; the signer
            refuses to sign when the ledger contradicts it. None: no witness (tests, tools).
        keyring: earlier keys of the deployment, to check a previous checkpoint signed before a rotation.
    """

    def __init__(
        self,
        store: Ledger | AuditStore,
        *,
        signer: Signer | None = None,
        origin: str = DEFAULT_ORIGIN,
        witness: WitnessStore | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.store: AuditStore = SqlAuditStore(store) if isinstance(store, Ledger) else store
        self.signer = signer
        self.witness = witness
        self.keyring = keyring
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

    def _subtrees(self, keys: Collection[Subtree], session: Any) -> dict[Subtree, bytes]:
        found = self.store.subtrees(keys, session=session)
        missing = [k for k in keys if k not in found]
        if missing:
            first = min(index << level for level, index in missing)
            raise AuditLogError(
                f"audit log entry {first} is missing; run `deletion-sdk audit verify`", index=first
            )
        return found

    def _hashes(self, ranges: Sequence[tuple[int, int]], session: Any) -> list[bytes]:
        """The tree hashes of leaf ranges ``(start, size)``, from O(log n) stored subtrees each."""
        nodes = self._subtrees(covers(ranges), session)
        return [range_hash(start, size, nodes) for start, size in ranges]

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
            return (self._hashes([(0, n)], s)[0] if n else EMPTY_ROOT).hex()

    def inclusion_proof(self, index: int, *, size: int | None = None) -> InclusionProof:
        """Prove entry ``index`` is in the tree of ``size`` entries.

        By default the tree is that of the latest signed checkpoint when it covers the entry (its note is
        attached), otherwise the whole current log (no checkpoint attached). Reads O(log n) stored
        subtree hashes; the proof is checked against the signed root before it is returned.

        Raises:
            NotFoundError: ``index`` is not in the tree.
            AuditLogError: the stored hashes no longer lead to the signed root.
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
            ranges = inclusion_ranges(index, size)
            hashes = self._hashes([*ranges, (index, 1), (0, size)], s)
            record = self.store.entry(index, session=s)
        proof, leaf, computed = hashes[:-2], hashes[-2], hashes[-1]
        # against the signed root when a checkpoint covers this size (proves the stored hashes still match it)
        root = bytes.fromhex(signed.root_hash) if signed is not None else computed
        note = signed.note if signed is not None else None
        try:
            verify_inclusion(leaf=leaf, index=index, tree_size=size, proof=proof, root=root)
        except ProofError as e:
            raise AuditLogError(
                f"the stored leaf hashes no longer lead to the checkpoint of size {size}; "
                "run `deletion-sdk audit verify`",
                index=index,
            ) from e
        return InclusionProof(
            index=index,
            tree_size=size,
            leaf_hash=leaf.hex(),
            root_hash=root.hex(),
            proof=tuple(p.hex() for p in proof),
            checkpoint=note,
            event=None if record is None else AuditEvent.model_validate_json(record.event),
        )

    def consistency_proof(self, old_size: int, *, new_size: int | None = None) -> ConsistencyProof:
        """Prove that the log at ``old_size`` is a prefix of the log at ``new_size`` (default: now).

        Reads O(log n) stored subtree hashes. When signed checkpoints of either size are stored, their
        notes are attached and the proof is checked against their roots before it is returned.

        Raises:
            AuditLogError: the stored hashes do not connect the signed roots.
        """
        with self.store.snapshot() as s:
            head = self.store.head(session=s).size
            n = self._size_arg(new_size, head, "new_size")
            m = self._size_arg(old_size, n, "old_size")
            ranges = consistency_ranges(m, n)
            hashes = self._hashes([*ranges, (0, m), (0, n)], s)
            old_cp = self.store.checkpoint_covering(m, session=s)
            new_cp = self.store.checkpoint_covering(n, session=s)
        old_cp = old_cp if old_cp is not None and old_cp.tree_size == m else None
        new_cp = new_cp if new_cp is not None and new_cp.tree_size == n else None
        proof = hashes[:-2]
        old_root = bytes.fromhex(old_cp.root_hash) if old_cp else (hashes[-2] if m else EMPTY_ROOT)
        new_root = bytes.fromhex(new_cp.root_hash) if new_cp else (hashes[-1] if n else EMPTY_ROOT)
        try:
            verify_consistency(old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=proof)
        except ProofError as e:
            raise AuditLogError(
                f"the stored hashes do not connect the trees of {m} and {n} entries ({e}); "
                "run `deletion-sdk audit verify`"
            ) from e
        return ConsistencyProof(
            old_size=m,
            new_size=n,
            old_root=old_root.hex(),
            new_root=new_root.hex(),
            proof=tuple(p.hex() for p in proof),
            old_checkpoint=None if old_cp is None else old_cp.note,
            new_checkpoint=None if new_cp is None else new_cp.note,
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

        The new tree head extends the previous signed one: the right edge of the previous tree (O(log n)
        stored subtrees) must fold to its signed root, and only the entries after it are read and hashed,
        so the cost is O(log n + new entries). With a witness, the ledger's checkpoints must agree with
        the newest witnessed one, and the new checkpoint (with any the witness lacks) is appended to it
        once the transaction commits.

        Raises:
            ConfigurationError: the log has no signer.
            AuditLogError: the log or the ledger's checkpoints contradict a checkpoint signed or witnessed
                before (entries or checkpoints were removed or changed); nothing is signed.
        """
        signer = self.signer
        if signer is None:
            raise ConfigurationError(
                "signing a checkpoint needs the log's signing key (AuditLog(signer=...))"
            )
        witnessed = self.witness.latest() if self.witness is not None else None
        to_witness: list[CheckpointRecord] = []

        def build(head: AuditHead, latest: CheckpointRecord | None, s: Any) -> CheckpointRecord | None:
            if witnessed is not None:
                self._check_witness(witnessed, latest, s)
            if latest is not None and latest.tree_size > head.size:
                raise AuditLogError(
                    f"refusing to sign: the log holds {head.size} entries but a checkpoint of "
                    f"{latest.tree_size} entries was signed before (entries were removed)",
                    index=head.size,
                )
            frontier = MerkleFrontier()
            if latest is not None:
                previous = self._open_previous(latest, signer)
                frontier = self._frontier(previous, s)
            if self.witness is not None:
                floor = -1 if witnessed is None else witnessed.tree_size
                to_witness.extend(self.store.checkpoints(since=floor, session=s))
            if latest is not None and latest.tree_size == head.size:
                return None
            self._extend(frontier, head.size, s)
            root = frontier.root()
            checkpoint = Checkpoint(origin=self.origin, tree_size=head.size, root_hash=root.hex())
            record = CheckpointRecord(
                tree_size=head.size,
                root_hash=root.hex(),
                note=_sign_checkpoint(checkpoint, signer=signer),
                key_id=signer.key_id,
                created_at=utcnow(),
            )
            to_witness.append(record)
            return record

        record = self.store.add_checkpoint(build, session=session)
        if record is None:  # pragma: no cover - build returns a record whenever none is stored
            raise AuditLogError("no checkpoint was stored")
        if self.witness is not None and to_witness:
            witness, pending = self.witness, list(to_witness)
            self.store.after_commit(session, lambda: _witness(witness, pending))
        get_logger(__name__).info("audit.checkpoint", tree_size=record.tree_size, root_hash=record.root_hash)
        return _signed(record)

    def seal(self, *, session: Any = None, strict: bool = True) -> SignedCheckpoint | None:
        """Close a unit of work (a batch job) with a signed checkpoint in its transaction.

        Args:
            session: the transaction that wrote the work's last events; the checkpoint commits with it.
            strict: raise when signing is refused. False (a job that is failing anyway): log the refusal
                and return None, so the failure is still recorded; ``audit verify`` then reports the
                unsigned end.

        Raises:
            AuditLogError, ConfigurationError: signing was refused or is impossible (``strict`` only).
        """
        try:
            return self.checkpoint(session=session)
        except (AuditLogError, ConfigurationError) as e:
            if strict:
                raise
            get_logger(__name__).error("audit.seal_refused", error=str(e))
            return None

    def _check_witness(self, witnessed: WitnessedCheckpoint, latest: CheckpointRecord | None, s: Any) -> None:
        """Refuse unless the ledger holds the newest witnessed checkpoint and extends it."""
        if latest is None or latest.tree_size < witnessed.tree_size:
            raise AuditLogError(
                f"refusing to sign: the witness holds a signed checkpoint of {witnessed.tree_size} entries "
                f"that the ledger does not (its newest is of {0 if latest is None else latest.tree_size}); "
                "checkpoints or entries were removed - run `deletion-sdk audit verify`"
            )
        row = self.store.checkpoint_at(witnessed.tree_size, session=s)
        if row is None or row.root_hash != witnessed.root_hash:
            raise AuditLogError(
                f"refusing to sign: the ledger's checkpoint of {witnessed.tree_size} entries differs from "
                "the witnessed one (or is missing) - run `deletion-sdk audit verify`"
            )
        if latest.tree_size > witnessed.tree_size:
            m, n = witnessed.tree_size, latest.tree_size
            proof = self._hashes(consistency_ranges(m, n), s)
            try:
                verify_consistency(
                    old_size=m,
                    new_size=n,
                    old_root=bytes.fromhex(witnessed.root_hash),
                    new_root=bytes.fromhex(latest.root_hash),
                    proof=proof,
                )
            except ProofError as e:
                raise AuditLogError(
                    f"refusing to sign: the ledger's checkpoint of {n} entries is not consistent with the "
                    f"witnessed one of {m} entries ({e}) - run `deletion-sdk audit verify`"
                ) from e

    def _open_previous(self, latest: CheckpointRecord, signer: Signer) -> Checkpoint:
        """The previous checkpoint, its signature checked when its key is known."""
        verifier: Any = None
        if latest.key_id == signer.key_id:
            verifier = signer.public_key
        elif self.keyring is not None and self.keyring.get(latest.key_id) is not None:
            verifier = self.keyring.get(latest.key_id).verifier()  # type: ignore[union-attr]
        try:
            previous = (
                open_checkpoint(latest.note, verifier=verifier, origin=self.origin)
                if verifier is not None
                else parse_checkpoint(latest.note)  # an earlier key: verify_audit_log checks it with that key
            )
        except SignatureError as e:
            raise AuditLogError(
                f"refusing to sign: the stored checkpoint of {latest.tree_size} entries does not verify: {e}"
            ) from e
        if previous.tree_size != latest.tree_size or previous.root_hash != latest.root_hash:
            raise AuditLogError(
                f"refusing to sign: the stored checkpoint row of size {latest.tree_size} "
                "differs from its signed note"
            )
        return previous

    def _frontier(self, previous: Checkpoint, s: Any) -> MerkleFrontier:
        """The right edge of the previous signed tree, from stored subtrees that must fold to its root."""
        cover = subtree_cover(0, previous.tree_size)
        nodes = self._subtrees(cover, s)
        frontier = MerkleFrontier.from_subtrees(previous.tree_size, [nodes[k] for k in cover])
        if frontier.root() != previous.root:
            raise AuditLogError(
                f"refusing to sign: the log is not consistent with the checkpoint of {previous.tree_size} "
                "entries signed before (its stored hashes no longer lead to that root); "
                "run `deletion-sdk audit verify`"
            )
        return frontier

    def _extend(self, frontier: MerkleFrontier, size: int, session: Any) -> None:
        """Append entries ``frontier.size .. size-1``; refuse unless each hashes to its leaf, in sequence."""
        expected = frontier.size
        for batch in self.store.iter_rows(start=frontier.size, stop=size, session=session):
            for index, event, leaf, _chain in batch:
                if index != expected:
                    raise AuditLogError(
                        f"refusing to sign: audit log entry {expected} is missing", index=expected
                    )
                computed = leaf_hash(event.encode("utf-8"))
                if computed.hex() != leaf:
                    raise AuditLogError(
                        f"refusing to sign: audit log entry {index} does not hash to its stored leaf hash",
                        index=int(index),
                    )
                if event_seq(event) != index:
                    raise AuditLogError(
                        f"refusing to sign: audit log entry {index} is out of place", index=int(index)
                    )
                frontier.append(computed)
                expected += 1
        if expected != size:
            raise AuditLogError(f"refusing to sign: audit log entry {expected} is missing", index=expected)

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
            hashes = self._hashes([*inclusion_ranges(index, signed.tree_size), (index, 1)], session)
            record = self.store.entry(index, session=session)
            path, leaf = hashes[:-1], hashes[-1]
            try:
                verify_inclusion(
                    leaf=leaf,
                    index=index,
                    tree_size=signed.tree_size,
                    proof=path,
                    root=signed.checkpoint.root,
                )
            except ProofError as e:
                raise AuditLogError(
                    f"the stored hashes do not lead entry {index} to the new checkpoint"
                ) from e
            proof = InclusionProof(
                index=index,
                tree_size=signed.tree_size,
                leaf_hash=leaf.hex(),
                root_hash=signed.root_hash,
                proof=tuple(p.hex() for p in path),
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
        """Write the log with its checkpoints, witness and keyring to ``path`` (see ``audit.export``).

        Returns:
            The number of entries written.
        """
        from deletion_sdk.audit.export import export_log

        return export_log(self, path)


def _witness(witness: WitnessStore, records: Sequence[CheckpointRecord]) -> None:
    """Append committed checkpoints to the witness; a failure is logged and repaired at the next signing."""
    try:
        witness.append((r.tree_size, r.root_hash, r.key_id, r.note) for r in records)
    except OSError as e:
        get_logger(__name__).error("audit.witness_failed", path=str(witness.path), error=str(e))
