"""Checkpoints anchored outside the database (issue 16, Found 1 and 2), on SQLite and PostgreSQL.

An attacker with write access to the ledger rewrites every event with consistent hashes (leaf, chain, head,
stored subtrees), truncates the log, or drops ``audit_checkpoints`` rows. The witness file and the
certificates on disk still hold checkpoints signed earlier: ``verify_audit_log`` must fail, and the signer
must refuse to sign the forged tree.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deletion_sdk.attest import (
    CertificatePredicate,
    DecisionRecord,
    ForgetSetRef,
    ModelRef,
    PolicyRef,
    RequestRecord,
    UnlearnerRecord,
    VerificationSummary,
    certificate_path,
    sign_certificate,
    write_certificate,
)
from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, NewEvent, verify_audit_log
from deletion_sdk.audit.store import SqlAuditStore
from deletion_sdk.audit.witness import WitnessStore
from deletion_sdk.errors import AuditLogError
from deletion_sdk.ledger.auditlog import ZERO_CHAIN
from deletion_sdk.ledger.db import Ledger

SUBJECT_REF = "9" * 64


def _events(log: AuditLog, lo: int, hi: int, *, session: Any = None) -> None:
    log.append_many(
        [
            NewEvent(
                type="request.received",
                data={"request_id": f"r{i:02d}", "subject_ref": SUBJECT_REF},
                actor="svc",
            )
            for i in range(lo, hi)
        ],
        session=session,
    )


def _certificate(log: AuditLog, signer: Ed25519Signer, directory: Path) -> Path:
    """A signed certificate embedding the checkpoint its audit entry was proven against."""
    entry = log.append("certificate.issued", {"job_id": "job-1"}, actor="job:job-1")
    t = datetime.now(UTC)
    digest = hashlib.sha256(b"model").hexdigest()
    predicate = CertificatePredicate(
        job_id="job-1",
        requests=(
            RequestRecord(
                request_id="r1", subject_ref=SUBJECT_REF, received_at=t, due_at=t, policy_id="gdpr-art17"
            ),
        ),
        policy=PolicyRef(id="gdpr-art17", digest=digest),
        forget_set=ForgetSetRef(size=1, merkle_root=digest),
        original_model=ModelRef(digest=digest, version="m@v1"),
        unlearned_model=ModelRef(digest=digest, version="m@v2"),
        unlearner=UnlearnerRecord(name="finetune", version="1", wall_time_s=1.0, device="cpu"),
        verification=VerificationSummary(tier="population"),
        decision=DecisionRecord(passed=True),
        audit=log.audit_record(entry.index),
        issued_at=t,
        sdk_version="test",
        signer_key_id=signer.key_id,
    )
    return write_certificate(sign_certificate(predicate, signer=signer), certificate_path(directory, "job-1"))


def _job(log: AuditLog, job_id: str, *, session: Any = None) -> None:
    log.append(
        "request.completed",
        {"request_id": "r1", "subject_ref": SUBJECT_REF},
        actor=f"job:{job_id}",
        session=session,
    )
    log.append("job.completed", {"job_id": job_id}, actor=f"job:{job_id}", session=session)


@pytest.fixture
def witness(tmp_path: Path) -> WitnessStore:
    return WitnessStore(tmp_path / "witness" / "checkpoints.jsonl")


def _sql(ledger: Ledger, statement: str, **params: Any) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _rewrite_everything(ledger: Ledger, *, keep: int | None = None, forge: bool = True) -> None:
    """Rewrite every event (``forge``) and every hash that depends on it consistently; optionally truncate
    to ``keep`` entries first."""
    if keep is not None:
        _sql(ledger, "DELETE FROM audit_entries WHERE entry_index >= :k", k=keep)
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT entry_index, event FROM audit_entries ORDER BY entry_index")
        ).all()
    chain = bytes.fromhex(ZERO_CHAIN)
    for index, event in rows:
        forged = event.replace('"request_id":"r', '"request_id":"x') if forge else event
        leaf = hashlib.sha256(b"\x00" + forged.encode()).digest()
        chain = hashlib.sha256(chain + leaf).digest()
        _sql(
            ledger,
            "UPDATE audit_entries SET event = :e, leaf_hash = :h, chain_hash = :c WHERE entry_index = :i",
            e=forged,
            h=leaf.hex(),
            c=chain.hex(),
            i=index,
        )
    _sql(ledger, "UPDATE audit_head SET size = :n, chain_hash = :c", n=len(rows), c=chain.hex())
    SqlAuditStore(ledger).rebuild_tree()  # the stored subtree hashes follow the forgery too


def _log_with_a_certificate(
    ledger: Ledger, key: Ed25519Signer, witness: WitnessStore, certs: Path
) -> AuditLog:
    log = AuditLog(ledger, signer=key, witness=witness)
    _events(log, 0, 10)
    log.checkpoint()
    _certificate(log, key, certs)  # entry 10, checkpoint of 11 entries embedded
    _events(log, 11, 20)
    _job(log, "job-1")
    log.seal()  # 22 entries
    return log


def test_rewrite_with_consistent_hashes_and_dropped_checkpoints_is_caught(
    ledger: Ledger, log_key: Ed25519Signer, witness: WitnessStore, tmp_path: Path
) -> None:
    certs = tmp_path / "certificates"
    _log_with_a_certificate(ledger, log_key, witness, certs)
    assert [w.tree_size for w in witness.read()] == [10, 11, 22]
    full = verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness, certificates=certs)
    assert (full.checkpoints_verified, full.witnessed_checkpoints, full.certificate_checkpoints) == (3, 3, 1)

    _rewrite_everything(ledger)
    _sql(ledger, "DELETE FROM audit_checkpoints")
    # the attack of Found 1: with nothing outside the database, the forged log looks fine ...
    assert (
        verify_audit_log(ledger, public_keys=log_key.public_key, require_job_checkpoints=False).tree_size
        == 22
    )
    # ... but the witness and the certificate on disk still hold the genuine checkpoints
    with pytest.raises(AuditLogError, match=r"checkpoint of 10 entries held by the witness is missing"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)
    with pytest.raises(
        AuditLogError, match=r"checkpoint of 11 entries held by certificate job-1\.intoto\.json"
    ):
        verify_audit_log(ledger, public_keys=log_key.public_key, certificates=certs)
    # and the SDK refuses to sign the forged tree with the genuine key
    with pytest.raises(AuditLogError, match=r"refusing to sign: the witness holds a signed checkpoint of 22"):
        AuditLog(ledger, signer=log_key, witness=witness).checkpoint()
    assert SqlAuditStore(ledger).checkpoints() == []

    # an attacker who signs the forged tree without the witness is caught by what it holds
    forger = AuditLog(ledger, signer=log_key)
    for row in [_forged_row(forger, n) for n in (10, 11, 22)]:
        _insert_checkpoint(ledger, row)
    with pytest.raises(AuditLogError, match=r"held by the witness contradicts the ledger's checkpoint"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)
    with pytest.raises(AuditLogError, match=r"held by certificate job-1\.intoto\.json contradicts"):
        verify_audit_log(ledger, public_keys=log_key.public_key, certificates=certs)


def _insert_checkpoint(ledger: Ledger, row: Any) -> None:
    _sql(
        ledger,
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note, key_id, created_at) "
        "VALUES (:s, :r, :n, :k, :t)",
        s=row.tree_size,
        r=row.root_hash,
        n=row.note,
        k=row.key_id,
        t=row.created_at.replace(tzinfo=None) if ledger.is_sqlite else row.created_at,
    )


def _forged_row(log: AuditLog, size: int) -> Any:
    from deletion_sdk.audit.checkpoint import Checkpoint, sign_checkpoint
    from deletion_sdk.ledger.auditlog import CheckpointRecord

    assert log.signer is not None
    root = log.root(size)
    note = sign_checkpoint(Checkpoint(origin=log.origin, tree_size=size, root_hash=root), signer=log.signer)
    return CheckpointRecord(size, root, note, log.signer.key_id, datetime.now(UTC))


def test_truncation_with_dropped_checkpoints_is_caught(
    ledger: Ledger, log_key: Ed25519Signer, witness: WitnessStore, tmp_path: Path
) -> None:
    certs = tmp_path / "certificates"
    _log_with_a_certificate(ledger, log_key, witness, certs)
    _sql(ledger, "DELETE FROM audit_entries WHERE entry_index >= 15")
    with ledger.engine.connect() as conn:
        chain = conn.execute(
            sa.text("SELECT chain_hash FROM audit_entries WHERE entry_index = 14")
        ).scalar_one()
    _sql(ledger, "UPDATE audit_head SET size = 15, chain_hash = :c", c=chain)
    _sql(ledger, "DELETE FROM audit_checkpoints WHERE tree_size > 15")
    SqlAuditStore(ledger).rebuild_tree()
    # the certificate's checkpoint (11) is still a prefix: only the witness knows the log was longer
    assert verify_audit_log(ledger, public_keys=log_key.public_key, certificates=certs).tree_size == 15
    with pytest.raises(AuditLogError, match=r"checkpoint of 22 entries held by the witness is missing"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness, certificates=certs)
    with pytest.raises(AuditLogError, match="refusing to sign"):
        AuditLog(ledger, signer=log_key, witness=witness).checkpoint()


@pytest.mark.parametrize("attack", ["truncate", "rewrite", "reorder", "drop_checkpoint"])
def test_a_finished_jobs_last_events_cannot_be_changed_unseen(
    ledger: Ledger, log_key: Ed25519Signer, witness: WitnessStore, attack: str
) -> None:
    log = AuditLog(ledger, signer=log_key, witness=witness)
    _events(log, 0, 6)
    log.checkpoint()  # the certificate's checkpoint: before the job's last events
    with ledger.session() as s:  # as the batch job's complete step: last events and the seal, one transaction
        _job(log, "job-7", session=s)
        log.seal(session=s)
    assert log.latest_checkpoint().tree_size == 8  # type: ignore[union-attr]
    assert verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness).unsigned_entries == 0

    if attack == "truncate":  # drop request.completed and job.completed, and the checkpoint covering them
        _rewrite_everything(ledger, keep=6, forge=False)
    elif attack == "rewrite":
        _sql(
            ledger, "UPDATE audit_entries SET event = REPLACE(event, 'job-7', 'job-8') WHERE entry_index = 7"
        )
        _rewrite_everything(ledger)
    elif attack == "reorder":
        _sql(ledger, "UPDATE audit_entries SET entry_index = -1 WHERE entry_index = 6")
        _sql(ledger, "UPDATE audit_entries SET entry_index = 6 WHERE entry_index = 7")
        _sql(ledger, "UPDATE audit_entries SET entry_index = 7 WHERE entry_index = -1")
        for index, old, new in ((6, '"seq":7,', '"seq":6,'), (7, '"seq":6,', '"seq":7,')):
            _sql(
                ledger,
                "UPDATE audit_entries SET event = REPLACE(event, :o, :n) WHERE entry_index = :i",
                o=old,
                n=new,
                i=index,
            )
        _rewrite_everything(ledger)
    _sql(ledger, "DELETE FROM audit_checkpoints WHERE tree_size > 6")
    if attack == "drop_checkpoint":  # even without the witness, a job's end must be under a signature
        with pytest.raises(
            AuditLogError, match=r"entry 7: batch job job-7 ended there but no signed checkpoint"
        ):
            verify_audit_log(ledger, public_keys=log_key.public_key)
    with pytest.raises(AuditLogError, match="checkpoint of 8 entries held by the witness"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)


def test_the_witness_only_receives_committed_checkpoints(
    ledger: Ledger, log_key: Ed25519Signer, witness: WitnessStore
) -> None:
    log = AuditLog(ledger, signer=log_key, witness=witness)
    _events(log, 0, 3)
    with pytest.raises(RuntimeError), ledger.session() as s:
        _events(log, 3, 5, session=s)
        log.checkpoint(session=s)
        raise RuntimeError("the job's transaction fails after signing")
    assert witness.read() == [] and log.checkpoints() == []
    with ledger.session() as s:
        _events(log, 3, 5, session=s)
        log.checkpoint(session=s)
        assert witness.read() == []  # not before the commit
    assert [w.tree_size for w in witness.read()] == [5]


def test_the_witness_catches_up_and_survives_a_torn_line(
    ledger: Ledger, log_key: Ed25519Signer, witness: WitnessStore
) -> None:
    unwitnessed = AuditLog(ledger, signer=log_key)  # e.g. a crash between the commit and the witness write
    _events(unwitnessed, 0, 4)
    unwitnessed.checkpoint()
    _events(unwitnessed, 4, 6)
    unwitnessed.checkpoint()
    with pytest.raises(AuditLogError, match="checkpoint of 4 entries was never witnessed"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)
    log = AuditLog(ledger, signer=log_key, witness=witness)
    _events(log, 6, 9)
    log.checkpoint()  # appends the two the witness lacks, then its own
    assert [w.tree_size for w in witness.read()] == [4, 6, 9]
    with witness.path.open("a") as f:
        f.write('{"tree_size": 12, "root_hash": "ab')  # torn by a crash mid-write
    assert [w.tree_size for w in witness.read()] == [4, 6, 9]
    _events(log, 9, 12)
    log.checkpoint()
    assert [w.tree_size for w in witness.read()] == [4, 6, 9, 12]
    result = verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)
    assert (result.witnessed_checkpoints, result.unwitnessed_checkpoints) == (4, 0)
    with witness.path.open("a") as f:
        f.write('{"tree_size": 99}\n')  # a complete line that is not a checkpoint: fail closed
    with pytest.raises(AuditLogError, match="line 6 is not a witnessed checkpoint"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)


def test_a_witnessed_checkpoint_by_another_key_is_rejected(
    ledger: Ledger, log_key: Ed25519Signer, other_key: Ed25519Signer, witness: WitnessStore
) -> None:
    log = AuditLog(ledger, signer=log_key, witness=witness)
    _events(log, 0, 3)
    log.checkpoint()
    forged = _forged_row(AuditLog(ledger, signer=other_key), 3)
    witness.append([(forged.tree_size, forged.root_hash, forged.key_id, forged.note)])
    with pytest.raises(AuditLogError, match="held by the witness has no valid signature by a trusted key"):
        verify_audit_log(ledger, public_keys=log_key.public_key, witness=witness)
