"""Tampering with the stored audit log through SQL, on a real SQLite file and on PostgreSQL.

Each test builds a log of 25 entries with signed checkpoints at sizes 10 and 20, edits the rows directly
as an attacker with database access would, and checks that ``verify_audit_log`` (and, where it applies,
the checkpoint signer) catches it and names the first bad entry.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import sqlalchemy as sa

from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, Checkpoint, NewEvent, sign_checkpoint, verify_audit_log
from deletion_sdk.audit.events import AuditEvent
from deletion_sdk.audit.store import SqlAuditStore
from deletion_sdk.errors import AuditLogError
from deletion_sdk.ledger.db import Ledger

SUBJECT_REF = "7" * 64


def _build(ledger: Ledger, key: Ed25519Signer) -> AuditLog:
    log = AuditLog(ledger, signer=key)

    def batch(lo: int, hi: int) -> None:
        log.append_many(
            [
                NewEvent(
                    type="request.received",
                    data={"request_id": f"r{i:02d}", "subject_ref": SUBJECT_REF},
                    actor="svc",
                )
                for i in range(lo, hi)
            ]
        )

    batch(0, 10)
    log.checkpoint()
    batch(10, 20)
    log.checkpoint()
    batch(20, 25)
    return log


def _sql(ledger: Ledger, statement: str, **params: Any) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _row(ledger: Ledger, index: int) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT event, leaf_hash, chain_hash FROM audit_entries WHERE entry_index = :i"),
            {"i": index},
        ).one()
    return {"event": row[0], "leaf_hash": row[1], "chain_hash": row[2]}


def _leaf(event: str) -> bytes:
    return hashlib.sha256(b"\x00" + event.encode()).digest()


def _verify(ledger: Ledger, key: Ed25519Signer) -> Any:
    return verify_audit_log(ledger, public_keys=key.public_key, batch_size=7)  # several batches


def _fails_at(ledger: Ledger, key: Ed25519Signer, index: int, match: str) -> AuditLogError:
    with pytest.raises(AuditLogError, match=match) as info:
        _verify(ledger, key)
    assert info.value.details.get("index") == index, str(info.value)
    assert f"entry {index}" in str(info.value)
    return info.value


def test_untouched_log_verifies(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = _build(ledger, log_key)
    result = _verify(ledger, log_key)
    assert (result.tree_size, result.checkpoints_verified, result.unsigned_entries) == (25, 2, 5)
    assert result.root_hash == log.root()
    assert result.key_ids == (log_key.key_id,)


def test_edited_row_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    _sql(ledger, "UPDATE audit_entries SET event = REPLACE(event, 'r07', 'r99') WHERE entry_index = 7")
    _fails_at(ledger, log_key, 7, "modified")


def test_edited_row_with_recomputed_leaf_hash_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    event = _row(ledger, 7)["event"].replace("r07", "r99")
    _sql(
        ledger,
        "UPDATE audit_entries SET event = :e, leaf_hash = :h WHERE entry_index = 7",
        e=event,
        h=_leaf(event).hex(),
    )
    _fails_at(ledger, log_key, 7, "chain hash")


def test_fully_rewritten_history_is_caught_by_the_signed_checkpoint(
    ledger: Ledger, log_key: Ed25519Signer
) -> None:
    log = _build(ledger, log_key)
    chain = bytes.fromhex(_row(ledger, 6)["chain_hash"])
    for i in range(7, 25):  # rewrite entry 7 and recompute every unsigned hash after it, and the head
        event = _row(ledger, i)["event"]
        if i == 7:
            event = event.replace("r07", "r99")
        leaf = _leaf(event)
        chain = hashlib.sha256(chain + leaf).digest()
        _sql(
            ledger,
            "UPDATE audit_entries SET event = :e, leaf_hash = :h, chain_hash = :c WHERE entry_index = :i",
            e=event,
            h=leaf.hex(),
            c=chain.hex(),
            i=i,
        )
    _sql(ledger, "UPDATE audit_head SET chain_hash = :c", c=chain.hex())
    with pytest.raises(AuditLogError, match=r"entries 0\.\.9") as info:
        _verify(ledger, log_key)
    assert info.value.details["range"] == (0, 9)
    # the attacker recomputes the stored subtree hashes too: the signer refuses to sign a head that
    # contradicts the checkpoints it signed before
    SqlAuditStore(ledger).rebuild_tree()
    with pytest.raises(AuditLogError, match="refusing to sign"):
        log.checkpoint()
    assert [c.tree_size for c in log.checkpoints()] == [10, 20]


def test_deleted_row_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    _sql(ledger, "DELETE FROM audit_entries WHERE entry_index = 12")
    _fails_at(ledger, log_key, 12, "missing")


def test_deleted_last_row_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = _build(ledger, log_key)
    _sql(ledger, "DELETE FROM audit_entries WHERE entry_index = 24")
    _fails_at(ledger, log_key, 24, "missing")
    with pytest.raises(AuditLogError):
        log.checkpoint()  # the head says 25 entries but entry 24 is gone


def test_deleted_row_with_renumbering_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    _sql(ledger, "DELETE FROM audit_entries WHERE entry_index = 12")
    _sql(ledger, "UPDATE audit_entries SET entry_index = -(entry_index - 1) WHERE entry_index > 12")
    _sql(ledger, "UPDATE audit_entries SET entry_index = -entry_index WHERE entry_index < 0")
    _sql(ledger, "UPDATE audit_head SET size = 24")
    _fails_at(ledger, log_key, 12, "out of place")


def _insert(ledger: Ledger, index: int, event: str, chain: str) -> None:
    _sql(
        ledger,
        "INSERT INTO audit_entries (entry_index, event, leaf_hash, chain_hash, created_at) "
        "SELECT :i, :e, :h, :c, created_at FROM audit_entries WHERE entry_index = 0",
        i=index,
        e=event,
        h=_leaf(event).hex(),
        c=chain,
    )


def _forged_event(seq: int) -> str:
    event = AuditEvent(
        seq=seq,
        type="request.completed",
        at="2020-01-01T00:00:00.000000Z",
        actor="svc",
        data={"request_id": "forged", "subject_ref": SUBJECT_REF},
    )
    return event.canonical().decode()


def test_inserted_row_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    _sql(ledger, "UPDATE audit_entries SET entry_index = -(entry_index + 1) WHERE entry_index >= 5")
    _sql(ledger, "UPDATE audit_entries SET entry_index = -entry_index WHERE entry_index < 0")
    _insert(ledger, 5, _forged_event(5), "0" * 64)  # well-formed event and leaf, guessed chain
    _sql(ledger, "UPDATE audit_head SET size = 26")
    _fails_at(ledger, log_key, 5, "chain hash")


def test_row_inserted_at_the_end_is_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    last = _row(ledger, 24)["chain_hash"]
    event = _forged_event(25)
    chain = hashlib.sha256(bytes.fromhex(last) + _leaf(event)).hexdigest()
    _insert(ledger, 25, event, chain)  # a perfect-looking append that bypassed the log's head
    _fails_at(ledger, log_key, 25, "beyond the log size 25")


def test_swapped_rows_are_named(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    _sql(ledger, "UPDATE audit_entries SET entry_index = -1 WHERE entry_index = 3")
    _sql(ledger, "UPDATE audit_entries SET entry_index = 3 WHERE entry_index = 16")
    _sql(ledger, "UPDATE audit_entries SET entry_index = 16 WHERE entry_index = -1")
    _fails_at(ledger, log_key, 3, "out of place")


def test_checkpoint_contradicting_an_earlier_one_is_detected(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    # signed with the real key (a compromised or buggy signer) but for a different history
    forged = Checkpoint(origin="deletion-sdk.local/audit-log", tree_size=15, root_hash="ab" * 32)
    _sql(
        ledger,
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note, key_id, created_at) "
        "SELECT 15, :r, :n, key_id, created_at FROM audit_checkpoints WHERE tree_size = 10",
        r=forged.root_hash,
        n=sign_checkpoint(forged, signer=log_key),
    )
    with pytest.raises(AuditLogError, match=r"entries 10\.\.14.*contradicts its signed checkpoint"):
        _verify(ledger, log_key)


def test_checkpoint_signed_by_another_key_is_rejected(
    ledger: Ledger, log_key: Ed25519Signer, other_key: Ed25519Signer
) -> None:
    log = _build(ledger, log_key)
    note = sign_checkpoint(
        Checkpoint(origin="deletion-sdk.local/audit-log", tree_size=25, root_hash=log.root()),
        signer=other_key,
    )
    _sql(
        ledger,
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note, key_id, created_at) "
        "SELECT 25, :r, :n, :k, created_at FROM audit_checkpoints WHERE tree_size = 10",
        r=log.root(),
        n=note,
        k=other_key.key_id,
    )
    with pytest.raises(AuditLogError, match="no valid signature"):
        _verify(ledger, log_key)
    # after a key rotation both keys are trusted, and the log verifies again
    assert (
        verify_audit_log(ledger, public_keys=[log_key.public_key, other_key.public_key]).checkpoints_verified
        == 3
    )


def test_checkpoint_row_edited_is_detected(ledger: Ledger, log_key: Ed25519Signer) -> None:
    _build(ledger, log_key)
    _sql(ledger, "UPDATE audit_checkpoints SET root_hash = :r WHERE tree_size = 20", r="cd" * 32)
    with pytest.raises(AuditLogError, match="does not match its signed note"):
        _verify(ledger, log_key)


def test_signer_never_endorses_an_earlier_edited_entry(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = _build(ledger, log_key)
    original_root = log.root()
    event = _row(ledger, 2)["event"].replace("r02", "r77")
    _sql(
        ledger,
        "UPDATE audit_entries SET event = :e, leaf_hash = :h WHERE entry_index = 2",
        e=event,
        h=_leaf(event).hex(),
    )
    # the new head extends the signed right edge of size 20, so it commits to the original entry 2 ...
    assert log.checkpoint().root_hash == original_root
    # ... and the edit stays caught
    _fails_at(ledger, log_key, 2, "chain hash")


def test_signer_refuses_when_the_stored_hashes_no_longer_lead_to_the_signed_root(
    ledger: Ledger, log_key: Ed25519Signer
) -> None:
    log = _build(ledger, log_key)
    _sql(ledger, "UPDATE audit_tree_nodes SET hash = :h WHERE level = 4 AND node_index = 0", h="ee" * 32)
    with pytest.raises(AuditLogError, match=r"refusing to sign: the log is not consistent"):
        log.checkpoint()


def test_signer_refuses_to_sign_an_edited_unsigned_entry(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = _build(ledger, log_key)
    _sql(ledger, "UPDATE audit_entries SET event = REPLACE(event, 'r22', 'r23') WHERE entry_index = 22")
    with pytest.raises(AuditLogError, match="refusing to sign: audit log entry 22") as info:
        log.checkpoint()
    assert info.value.details["index"] == 22
    assert [c.tree_size for c in log.checkpoints()] == [10, 20]


def test_proofs_are_checked_against_the_signed_root(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = _build(ledger, log_key)
    assert log.inclusion_proof(5).checkpoint is not None  # proven against the checkpoint of size 20
    event = _row(ledger, 3)["event"].replace("r03", "r33")
    _sql(
        ledger,
        "UPDATE audit_entries SET event = :e, leaf_hash = :h WHERE entry_index = 3",
        e=event,
        h=_leaf(event).hex(),
    )
    with pytest.raises(AuditLogError, match="no longer lead to the checkpoint of size 20"):
        log.inclusion_proof(3)
