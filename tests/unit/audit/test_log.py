"""The audit log on a real SQLite file and a real PostgreSQL server: append, prove, checkpoint, export."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from deletion_sdk.attest.jcs import canonical_json
from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, NewEvent, verify_audit_log
from deletion_sdk.audit.checkpoint import open_checkpoint
from deletion_sdk.errors import ConfigurationError, InputError, NotFoundError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.merkle import merkle_root, verify_consistency, verify_inclusion

SUBJECT_REF = "5" * 64


def _fill(log: AuditLog, n: int, start: int = 0) -> None:
    log.append_many(
        [
            NewEvent(
                type="request.received", data={"request_id": f"r{i}", "subject_ref": SUBJECT_REF}, actor="svc"
            )
            for i in range(start, start + n)
        ]
    )


def test_leaf_is_sha256_of_0x00_and_rfc8785_event(ledger: Ledger) -> None:
    log = AuditLog(ledger)
    entry = log.append("request.received", {"request_id": "r1", "subject_ref": SUBJECT_REF}, actor="intake")
    assert entry.index == 0 and entry.event.seq == 0
    stored = log.entry(0)
    canonical = canonical_json(json.loads(stored.event.model_dump_json()))
    assert canonical == stored.event.canonical()
    assert list(json.loads(canonical)) == ["actor", "at", "data", "seq", "type"]
    assert stored.leaf_hash == hashlib.sha256(b"\x00" + canonical).hexdigest()
    assert stored.event.at.endswith("Z")
    with pytest.raises(NotFoundError):
        log.entry(1)


def test_roots_and_proofs_verify_against_signed_checkpoints(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = AuditLog(ledger, signer=log_key)
    _fill(log, 5)
    first = log.checkpoint()
    _fill(log, 8, start=5)
    second = log.checkpoint()
    assert (first.tree_size, second.tree_size) == (5, 13)
    events = [e.event.canonical() for e in log.entries()]
    assert log.root() == merkle_root(events).hex() == second.root_hash
    assert log.root(5) == merkle_root(events[:5]).hex() == first.root_hash
    assert open_checkpoint(second.note, verifier=log_key.public_key).root_hash == second.root_hash
    for index in range(13):
        proof = log.inclusion_proof(index)
        assert proof.tree_size == 13 and proof.checkpoint == second.note
        verify_inclusion(
            leaf=bytes.fromhex(proof.leaf_hash),
            index=index,
            tree_size=13,
            proof=[bytes.fromhex(p) for p in proof.proof],
            root=second.checkpoint.root,
        )
    for old in range(0, 14):
        c = log.consistency_proof(old)
        verify_consistency(
            old_size=c.old_size,
            new_size=c.new_size,
            old_root=bytes.fromhex(c.old_root),
            new_root=bytes.fromhex(c.new_root),
            proof=[bytes.fromhex(p) for p in c.proof],
        )
    assert log.inclusion_proof(2, size=5).checkpoint == first.note
    with pytest.raises(NotFoundError):
        log.inclusion_proof(13)
    with pytest.raises(InputError):
        log.inclusion_proof(0, size=14)


def test_append_joins_the_callers_transaction(ledger: Ledger) -> None:
    log = AuditLog(ledger)
    with pytest.raises(RuntimeError), ledger.session() as s:
        log.append("job.started", {"job_id": "j1"}, actor="batch", session=s)
        raise RuntimeError("the state change failed")
    assert log.size() == 0
    with ledger.session() as s:
        a = log.append("job.started", {"job_id": "j1"}, actor="batch", session=s)
        b = log.append("job.finished", {"job_id": "j1"}, actor="batch", session=s)
    assert (a.index, b.index, log.size()) == (0, 1, 2)
    verify_audit_log(ledger, public_keys=None)


def test_concurrent_appenders_number_entries_without_gaps(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = AuditLog(ledger, signer=log_key)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(15):
                log.append("job.step", {"job_id": f"w{w}", "step": i}, actor=f"worker-{w}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries = list(log.entries())
    assert [e.index for e in entries] == list(range(60))
    assert sorted((e.event.actor, e.event.data["step"]) for e in entries) == sorted(
        (f"worker-{w}", i) for w in range(4) for i in range(15)
    )
    log.checkpoint()
    result = verify_audit_log(ledger, public_keys=log_key.public_key)
    assert (result.tree_size, result.checkpoints_verified, result.unsigned_entries) == (60, 1, 0)


def test_personal_data_is_refused(ledger: Ledger) -> None:
    log = AuditLog(ledger)
    with pytest.raises(InputError, match=r"data\.email"):
        log.append("request.received", {"email": "alice@example.com"}, actor="svc")
    with pytest.raises(InputError, match=r"data.requests\[0\].name"):
        log.append("request.received", {"requests": [{"name": "Alice"}]}, actor="svc")
    with pytest.raises(InputError) as info:
        log.append("request.received", {"subject_ref": "alice@example.com"}, actor="svc")
    assert "alice" not in str(info.value)
    with pytest.raises(InputError):
        log.append("NotDotted", {}, actor="svc")
    assert log.size() == 0


def test_checkpoint_needs_a_signer_and_is_reused_when_nothing_changed(
    ledger: Ledger, log_key: Ed25519Signer
) -> None:
    with pytest.raises(ConfigurationError):
        AuditLog(ledger).checkpoint()
    log = AuditLog(ledger, signer=log_key)
    empty = log.checkpoint()
    assert empty.tree_size == 0
    _fill(log, 3)
    a = log.checkpoint()
    b = log.checkpoint()
    assert a == b and len(log.checkpoints()) == 2
    assert log.latest_checkpoint() == a


def test_audit_record_for_a_certificate(ledger: Ledger, log_key: Ed25519Signer) -> None:
    log = AuditLog(ledger, signer=log_key)
    _fill(log, 6)
    with ledger.session() as s:
        entry = log.append("certificate.issued", {"job_id": "job-1"}, actor="batch", session=s)
        record = log.audit_record(entry.index, session=s)
    assert record.tree_size == 7 and record.entry_index == 6
    assert record.event is not None and record.event["type"] == "certificate.issued"
    outside = log.audit_record(2)
    assert outside.tree_size == 7 and outside.checkpoint == record.checkpoint


def test_export_jsonl(ledger: Ledger, log_key: Ed25519Signer, tmp_path: Path) -> None:
    log = AuditLog(ledger, signer=log_key)
    _fill(log, 4)
    log.checkpoint()
    out = tmp_path / "export" / "audit.jsonl"
    assert log.export_jsonl(out) == 4
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [ln["kind"] for ln in lines] == ["head"] + ["entry"] * 4 + ["checkpoint"]
    assert lines[0]["tree_size"] == 4 and lines[0]["format"] == "deletion-sdk-audit-export/v1"
    for ln in lines[1:5]:
        leaf = hashlib.sha256(b"\x00" + canonical_json(ln["event"])).hexdigest()
        assert leaf == ln["leaf_hash"] and ln["event"]["seq"] == ln["index"]
    assert lines[-1]["tree_size"] == 4


def test_store_recreates_a_missing_head_row(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_head"))
    log = AuditLog(ledger)
    assert log.append("job.started", {"job_id": "j"}, actor="x").index == 0
    verify_audit_log(ledger, public_keys=None)
