"""Verification of the audit log and of the audit section of a certificate. Fails closed.

``verify_audit_log`` reads the log once, in index order, inside one snapshot, and for every row checks:

1. the index continues ``0, 1, 2, …`` (a gap is a removed entry),
2. SHA-256(0x00 || stored event bytes) equals the stored leaf hash (an edited event),
3. the event's own ``seq`` equals the row's index (a row moved, inserted or renumbered),
4. the stored chain hash equals SHA-256(previous chain || leaf) (rows inserted, removed or reordered even
   when their events and leaf hashes were rewritten consistently),

while building the RFC 9162 tree bottom-up with a streaming frontier (O(n) time, O(log n) memory). Every
stored checkpoint must carry a valid signature by a trusted key, state the same size and root as its row,
and equal the recomputed root at its size - which also proves that all checkpoints are consistent with
each other. Finally the head row's size and chain must match the rows.

Checkpoints kept outside the database anchor the log against a rewrite of the whole database: every
checkpoint held by the witness (:mod:`deletion_sdk.audit.witness`) or embedded in a certificate must carry
a valid signature, be present in the ledger with the same root (a dropped or replaced checkpoint row
fails), and so match the recomputed tree; every ledger checkpoint but the newest (the one a crash may
have kept from the witness) must be witnessed; and every finished batch job (``job.completed`` or
``job.failed``) must be covered by a signed checkpoint. With a keyring, a retired key's checkpoints must
not be larger than the last tree it signed.

The first failure raises :class:`~deletion_sdk.errors.AuditLogError` naming the first bad entry index
(``error.details["index"]``). An attacker who rewrites every unsigned column from entry *i* onward is still
caught by the first signed checkpoint beyond *i*, but then only the range between the last good and the
first bad checkpoint can be named (``details["range"]``); entries after the newest checkpoint are covered
by no signature until the next checkpoint is signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from deletion_sdk.attest.certificate import CERTIFICATE_SUFFIX, AuditRecord
from deletion_sdk.attest.keyring import Keyring
from deletion_sdk.attest.keys import Ed25519Verifier, Verifier
from deletion_sdk.attest.verify import VerifiedCertificate, read_certificate_unverified
from deletion_sdk.audit.checkpoint import DEFAULT_ORIGIN, Checkpoint, open_checkpoint
from deletion_sdk.audit.events import AuditEvent, event_bytes, event_seq
from deletion_sdk.audit.store import AuditStore, CheckpointRecord, SqlAuditStore
from deletion_sdk.audit.witness import WitnessedCheckpoint, WitnessStore
from deletion_sdk.errors import AuditLogError, ConfigurationError, ProofError, SignatureError
from deletion_sdk.ledger.auditlog import ZERO_CHAIN
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.merkle import EMPTY_ROOT, MerkleFrontier, leaf_hash, verify_inclusion

__all__ = ["AuditVerification", "CertificateAuditEvidence", "verify_audit_log", "verify_certificate_audit"]

PublicKeys = Verifier | Ed25519PublicKey | Iterable[Verifier | Ed25519PublicKey] | None


class AuditVerification(BaseModel):
    """Evidence that the whole log verified."""

    model_config = ConfigDict(frozen=True)

    origin: str
    tree_size: int
    root_hash: str
    checkpoints_verified: int
    latest_checkpoint_size: int | None
    unsigned_entries: int  # entries after the newest checkpoint: covered by no signature yet
    key_ids: tuple[str, ...]
    witnessed_checkpoints: int = 0  # checkpoints the witness holds (each found in the ledger and checked)
    certificate_checkpoints: int = 0  # checkpoints embedded in the certificates given (each checked)
    unwitnessed_checkpoints: int = 0  # the newest ledger checkpoint, when a crash kept it from the witness


class CertificateAuditEvidence(BaseModel):
    """Evidence that a certificate's audit entry is in the signed tree it cites."""

    model_config = ConfigDict(frozen=True)

    origin: str
    entry_index: int
    tree_size: int
    root_hash: str
    leaf_hash: str
    event_type: str | None


def _verifiers(public_keys: PublicKeys) -> dict[str, Verifier]:
    if public_keys is None:
        return {}
    items: Iterable[Any] = (
        [public_keys] if isinstance(public_keys, Verifier | Ed25519PublicKey) else public_keys
    )
    out: dict[str, Verifier] = {}
    for key in items:
        verifier = key if isinstance(key, Verifier) else Ed25519Verifier(key)
        out[verifier.key_id] = verifier
    return out


def _bad(message: str, index: int) -> AuditLogError:
    return AuditLogError(f"audit log entry {index}: {message}", index=index)


class _Anchor(NamedTuple):
    """A checkpoint found outside the ledger and where it was found."""

    source: str
    record: CheckpointRecord


def _open(
    record: CheckpointRecord,
    verifiers: dict[str, Verifier],
    origin: str,
    keyring: Keyring | None = None,
    source: str = "",
) -> Checkpoint:
    candidates = [verifiers[record.key_id]] if record.key_id in verifiers else list(verifiers.values())
    last: Exception | None = None
    where = f" held by {source}" if source else ""
    for verifier in candidates:
        try:
            checkpoint = open_checkpoint(record.note, verifier=verifier, origin=origin)
        except SignatureError as e:
            last = e
            continue
        if keyring is not None:
            try:
                keyring.check_checkpoint(verifier.key_id, checkpoint.tree_size)
            except SignatureError as e:
                raise AuditLogError(
                    f"the checkpoint of size {record.tree_size}{where} is {e}",
                    index=None,
                    checkpoint_size=record.tree_size,
                ) from e
        if checkpoint.tree_size != record.tree_size or checkpoint.root_hash != record.root_hash:
            raise AuditLogError(
                f"the checkpoint row of size {record.tree_size}{where} does not match its signed note "
                f"(size {checkpoint.tree_size})",
                index=None,
                checkpoint_size=record.tree_size,
            )
        return checkpoint
    raise AuditLogError(
        f"the checkpoint of size {record.tree_size}{where} has no valid signature by a trusted key: {last}",
        index=None,
        checkpoint_size=record.tree_size,
    ) from last


def verify_audit_log(
    store: Ledger | AuditStore,
    *,
    public_keys: PublicKeys,
    origin: str = DEFAULT_ORIGIN,
    batch_size: int = 50_000,
    keyring: Keyring | None = None,
    witness: WitnessStore | Sequence[WitnessedCheckpoint] | None = None,
    certificates: Iterable[Path | str] | Path | str | None = None,
    require_job_checkpoints: bool = True,
) -> AuditVerification:
    """Recompute and check the whole audit log (see the module docstring).

    Args:
        store: the ledger (or audit store) holding the log.
        public_keys: the log key(s) trusted for checkpoints (several after a key rotation). May be None
            only while no checkpoint is stored.
        origin: the log's origin line.
        batch_size: rows fetched per round trip.
        keyring: the deployment's keyring; its keys are trusted too, each within its validity.
        witness: the witness store (or its checkpoints). None: no witness is checked.
        certificates: certificate files, or a directory of ``*.intoto.json`` files, whose embedded
            checkpoints must be in the ledger and match the log.
        require_job_checkpoints: fail when a finished batch job's last event is covered by no checkpoint.

    Returns:
        Size, root and checkpoint figures of the verified log.

    Raises:
        AuditLogError: the first problem found, naming the first bad entry index.
        ConfigurationError: checkpoints exist but no key was given.
    """
    audit_store: AuditStore = SqlAuditStore(store) if isinstance(store, Ledger) else store
    verifiers = _verifiers(public_keys)
    if keyring is not None:
        for verifier in keyring.verifiers():
            verifiers.setdefault(verifier.key_id, verifier)
    witnessed = witness.read() if isinstance(witness, WitnessStore) else list(witness or ())
    anchors = [
        _Anchor("the witness", CheckpointRecord(w.tree_size, w.root_hash, w.note, w.key_id, w.witnessed_at))
        for w in witnessed
    ] + _certificate_anchors(certificates)
    with audit_store.snapshot() as s:
        head = audit_store.head(session=s)
        records = audit_store.checkpoints(session=s)
        if (records or anchors) and not verifiers:
            raise ConfigurationError(
                "the audit log has signed checkpoints; give the public key to verify them"
            )
        checkpoints = [(r, _open(r, verifiers, origin, keyring)) for r in records]
        _check_anchors(anchors, records, verifiers, origin, keyring)
        unwitnessed = _check_witnessed(witnessed, records) if witness is not None else 0
        last_job_end: tuple[int, str] | None = None
        pending = iter(checkpoints)
        next_cp = next(pending, None)
        good_size = 0  # size of the last checkpoint that matched the recomputed tree

        frontier = MerkleFrontier()
        chain = bytes.fromhex(ZERO_CHAIN)
        expected = 0
        sha256 = hashlib.sha256

        while next_cp is not None and next_cp[0].tree_size == 0:
            if next_cp[1].root != EMPTY_ROOT:
                raise AuditLogError("the checkpoint of size 0 does not hold the empty-tree root", index=0)
            next_cp = next(pending, None)

        for batch in audit_store.iter_rows(batch_size=batch_size, session=s):
            for index, event, stored_leaf, stored_chain in batch:
                if index != expected:
                    raise _bad(f"missing (the next stored entry is {index})", expected)
                if expected >= head.size:
                    raise _bad(f"beyond the log size {head.size} recorded by the head (inserted)", expected)
                raw = event.encode("utf-8")
                leaf = sha256(b"\x00" + raw).digest()
                if leaf.hex() != stored_leaf:
                    raise _bad("modified: its event does not hash to its stored leaf hash", expected)
                seq = event_seq(event)
                if seq != expected:
                    raise _bad(
                        f"out of place: its event is number {seq} (inserted, removed or moved)", expected
                    )
                chain = sha256(chain + leaf).digest()
                if chain.hex() != stored_chain:
                    raise _bad(
                        "its chain hash does not follow from the entries before it "
                        "(an entry was inserted, removed, reordered or rewritten)",
                        expected,
                    )
                frontier.append(leaf)
                if event.endswith(_JOB_END):
                    last_job_end = _job_end(event, expected) or last_job_end
                expected += 1
                while next_cp is not None and next_cp[0].tree_size == expected:
                    if frontier.root() != next_cp[1].root:
                        raise AuditLogError(
                            f"audit log entries {good_size}..{expected - 1}: the recomputed tree of size "
                            f"{expected} contradicts its signed checkpoint (an entry in that range was "
                            "rewritten together with its hashes)",
                            index=None,
                            range=(good_size, expected - 1),
                        )
                    good_size = expected
                    next_cp = next(pending, None)

        if expected < head.size:
            raise _bad(f"missing (the head records {head.size} entries, {expected} are stored)", expected)
        if next_cp is not None:
            raise _bad(f"missing (a checkpoint of size {next_cp[0].tree_size} was signed)", expected)
        if chain.hex() != head.chain_hash:
            raise AuditLogError(
                "the audit log head's chain hash does not match the last entry", index=max(expected - 1, 0)
            )
    latest = checkpoints[-1][1].tree_size if checkpoints else None
    if require_job_checkpoints and last_job_end is not None and (latest or 0) <= last_job_end[0]:
        index, job = last_job_end
        raise AuditLogError(
            f"audit log entry {index}: batch job {job} ended there but no signed checkpoint covers it "
            "(its last events are unsigned: a checkpoint was removed, or the job ran before jobs ended "
            "with one - sign one with `deletion-sdk audit checkpoint`)",
            index=index,
        )
    return AuditVerification(
        origin=origin,
        tree_size=expected,
        root_hash=frontier.root().hex(),
        checkpoints_verified=len(checkpoints),
        latest_checkpoint_size=latest,
        unsigned_entries=expected - (latest or 0),
        key_ids=tuple(sorted({r.key_id for r, _ in checkpoints})),
        witnessed_checkpoints=len(witnessed),
        certificate_checkpoints=sum(1 for a in anchors if a.source != "the witness"),
        unwitnessed_checkpoints=unwitnessed,
    )


_JOB_END = ('"type":"job.completed"}', '"type":"job.failed"}')


def _job_end(event: str, index: int) -> tuple[int, str] | None:
    """``(index, job id)`` when ``event`` is a top-level ``job.completed`` / ``job.failed`` event."""
    try:
        obj = json.loads(event)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("type") not in ("job.completed", "job.failed"):
        return None
    data = obj.get("data")
    return index, str(data.get("job_id") if isinstance(data, dict) else "?")


def _certificate_anchors(certificates: Iterable[Path | str] | Path | str | None) -> list[_Anchor]:
    """The signed checkpoints embedded in certificate files (a directory means its ``*.intoto.json``)."""
    if certificates is None:
        return []
    given = [certificates] if isinstance(certificates, Path | str) else list(certificates)
    paths: list[Path] = []
    for item in map(Path, given):
        paths.extend(sorted(item.glob(f"*{CERTIFICATE_SUFFIX}")) if item.is_dir() else [item])
    anchors = []
    for path in paths:
        try:
            statement = read_certificate_unverified(path)  # the checkpoint carries its own signature
            audit = statement["predicate"]["audit"]
            record = CheckpointRecord(
                int(audit["tree_size"]),
                str(audit["root_hash"]).removeprefix("sha256:").lower(),
                str(audit["checkpoint"]),
                str(statement["predicate"].get("signer_key_id", "")),
                None,  # type: ignore[arg-type]
            )
        except (SignatureError, KeyError, TypeError, ValueError) as e:
            raise AuditLogError(f"the certificate {path} carries no readable audit checkpoint: {e}") from e
        anchors.append(_Anchor(f"certificate {path.name}", record))
    return anchors


def _check_anchors(
    anchors: Sequence[_Anchor],
    records: Sequence[CheckpointRecord],
    verifiers: dict[str, Verifier],
    origin: str,
    keyring: Keyring | None,
) -> None:
    """Every anchored checkpoint verifies and is in the ledger with the same root."""
    by_size = {r.tree_size: r for r in records}
    for anchor in anchors:
        checkpoint = _open(anchor.record, verifiers, origin, keyring, anchor.source)
        row = by_size.get(checkpoint.tree_size)
        if row is None:
            raise AuditLogError(
                f"the signed checkpoint of {checkpoint.tree_size} entries held by {anchor.source} is missing "
                "from the ledger (checkpoints were removed, or the log was truncated or rewritten)",
                index=None,
                checkpoint_size=checkpoint.tree_size,
            )
        if row.root_hash != checkpoint.root_hash:
            raise AuditLogError(
                f"the signed checkpoint of {checkpoint.tree_size} entries held by {anchor.source} "
                "contradicts the ledger's checkpoint of that size (the log was rewritten)",
                index=None,
                checkpoint_size=checkpoint.tree_size,
            )


def _check_witnessed(witnessed: Sequence[WitnessedCheckpoint], records: Sequence[CheckpointRecord]) -> int:
    """Every ledger checkpoint but the newest must be in the witness; returns 1 when the newest is not."""
    seen = {(w.tree_size, w.root_hash) for w in witnessed}
    missing = [r for r in records if (r.tree_size, r.root_hash) not in seen]
    newest = records[-1] if records else None
    for r in missing:
        if r is not newest:
            raise AuditLogError(
                f"the ledger's checkpoint of {r.tree_size} entries was never witnessed (the witness was "
                "replaced or emptied; a deployment from before witnesses: sign a checkpoint once with "
                "`deletion-sdk audit checkpoint` to bring the witness up to date)",
                index=None,
                checkpoint_size=r.tree_size,
            )
    return len(missing)


def verify_certificate_audit(
    verified: VerifiedCertificate | AuditRecord,
    *,
    public_key: Verifier | Ed25519PublicKey,
    origin: str | None = None,
) -> CertificateAuditEvidence:
    """Check a certificate's audit section: signed checkpoint, matching head, inclusion proof, event.

    Args:
        verified: the result of :func:`~deletion_sdk.attest.verify.verify_certificate` (or its audit record).
        public_key: the audit log's key (the same Ed25519 key as the certificate's in a default deployment).
        origin: the expected log origin (default: whatever the checkpoint names, which its key must sign).

    Raises:
        AuditLogError: any mismatch (the checkpoint's signature, size or root; the proof; the event).
    """
    record = verified.predicate.audit if isinstance(verified, VerifiedCertificate) else verified
    try:
        checkpoint = open_checkpoint(record.checkpoint, verifier=public_key, origin=origin)
    except SignatureError as e:
        raise AuditLogError(f"the certificate's audit checkpoint does not verify: {e}") from e
    if checkpoint.tree_size != record.tree_size or checkpoint.root_hash != record.root_hash:
        raise AuditLogError(
            f"the certificate cites a tree of size {record.tree_size} but its checkpoint signs size "
            f"{checkpoint.tree_size} with another root"
        )
    leaf = bytes.fromhex(record.leaf_hash)
    event_type: str | None = None
    if record.event is not None:
        try:
            event = AuditEvent.model_validate(record.event)
        except ValueError as e:
            raise AuditLogError(f"the certificate's audit event is malformed: {e}") from e
        if leaf_hash(event_bytes(event)) != leaf:
            raise AuditLogError("the certificate's audit event does not hash to its leaf hash")
        if event.seq != record.entry_index:
            raise AuditLogError(
                f"the certificate's audit event is number {event.seq}, not entry {record.entry_index}"
            )
        event_type = event.type
    try:
        verify_inclusion(
            leaf=leaf,
            index=record.entry_index,
            tree_size=record.tree_size,
            proof=[bytes.fromhex(p) for p in record.inclusion_proof],
            root=checkpoint.root,
        )
    except ProofError as e:
        raise AuditLogError(f"the certificate's inclusion proof does not verify: {e}") from e
    return CertificateAuditEvidence(
        origin=checkpoint.origin,
        entry_index=record.entry_index,
        tree_size=record.tree_size,
        root_hash=record.root_hash,
        leaf_hash=record.leaf_hash,
        event_type=event_type,
    )
