"""The auditor's path through the CLI (issue 13 Build 2, issue 16 Found 1, 7, 8): pinned keys, the weights
and the job a certificate is about, an export verified offline, consistency proofs checked offline, and a
log whose checkpoints were dropped caught by the certificates under HOME."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

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
    load_signer,
    sign_certificate,
    write_certificate,
)
from deletion_sdk.attest.verify import CERTIFICATE_EVENT, predicate_digest
from deletion_sdk.audit.deployment import deployment_audit_log
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.settings import Settings
from tests.cli_run import run_cli as run

SUBJECT_REF = "c" * 64


@pytest.fixture
def deployment(home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> dict[str, Path]:
    """HOME with a key, a ledger, a few audit entries and one certificate (for real weights) under HOME."""
    assert run(capsys, "keys", "generate", "--json")[0] == 0
    assert run(capsys, "init", "--json")[0] == 0
    weights = tmp_path / "unlearned.safetensors"
    weights.write_bytes(b"the unlearned model's weights" * 100)
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"some other model's weights" * 100)
    settings = Settings(home=home)
    ledger = Ledger.open(settings.resolved_database_url)
    signer = load_signer(settings.layout.keys)
    log = deployment_audit_log(ledger, settings, signer=signer)
    for i in range(5):
        log.append("request.received", {"request_id": f"r{i}", "subject_ref": SUBJECT_REF}, actor="intake")
    t = datetime.now(UTC)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()

    def predicate(audit: object) -> CertificatePredicate:
        return CertificatePredicate.model_validate(
            {
                "job_id": "job-a",
                "requests": (
                    RequestRecord(
                        request_id="r1",
                        subject_ref=SUBJECT_REF,
                        received_at=t,
                        due_at=t,
                        policy_id="gdpr-art17",
                    ),
                ),
                "policy": PolicyRef(id="gdpr-art17", digest=digest),
                "forget_set": ForgetSetRef(size=1, merkle_root=digest),
                "original_model": ModelRef(digest=hashlib.sha256(b"original").hexdigest(), version="age@v1"),
                "unlearned_model": ModelRef(digest=digest, version="age@v2"),
                "unlearner": UnlearnerRecord(name="finetune", version="1", wall_time_s=1.0, device="cpu"),
                "verification": VerificationSummary(tier="population"),
                "decision": DecisionRecord(passed=True),
                "audit": audit,
                "issued_at": t,
                "sdk_version": "test",
                "signer_key_id": signer.key_id,
            }
        )

    placeholder = {
        "tree_size": 1,
        "root_hash": "0" * 64,
        "entry_index": 0,
        "leaf_hash": "0" * 64,
        "checkpoint": "x",
    }
    entry = log.append(
        CERTIFICATE_EVENT,
        {"job_id": "job-a", "predicate_sha256": predicate_digest(predicate(placeholder))},
        actor="job",
    )
    cert = write_certificate(
        sign_certificate(predicate(log.audit_record(entry.index)), signer=signer),
        certificate_path(settings.layout.certificates, "job-a"),
    )
    for i in range(5, 9):
        log.append("request.received", {"request_id": f"r{i}", "subject_ref": SUBJECT_REF}, actor="intake")
    log.checkpoint()
    ledger.dispose()
    return {
        "cert": cert,
        "weights": weights,
        "other": other,
        "pub": settings.layout.public_key,
        "db": home / "ledger.db",
    }


def test_artifact_and_job_are_checked(
    deployment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cert, pub = str(deployment["cert"]), str(deployment["pub"])
    code, out, err = run(
        capsys,
        "certificate",
        "verify",
        cert,
        "--key",
        pub,
        "--artifact",
        str(deployment["weights"]),
        "--job",
        "job-a",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["artifact_sha256"] == hashlib.sha256(deployment["weights"].read_bytes()).hexdigest()
    assert doc["job_id"] == "job-a"
    code, out, _ = run(capsys, "certificate", "show", cert, "--key-id", doc["key_id"][:16])
    assert code == 0 and out.startswith(f"VERIFIED with key {doc['key_id']}")
    code, out, err = run(
        capsys, "certificate", "verify", cert, "--key", pub, "--artifact", str(deployment["other"])
    )
    assert (
        code == 1 and out == "" and "other.safetensors" in err and "is not this certificate's subject" in err
    )
    code, _, err = run(capsys, "certificate", "verify", cert, "--key", pub, "--job", "job-b")
    assert code == 1 and "belongs to job job-a, not to job job-b" in err
    code, _, err = run(
        capsys, "certificate", "verify", cert, "--key", pub, "--artifact", str(deployment["other"]) + ".x"
    )
    assert code == 2 and "cannot read the artifact" in err


def test_export_verified_offline_and_tampering_caught(
    deployment: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "audit.jsonl"
    assert run(capsys, "audit", "export", "--out", str(export))[0] == 0
    deployment["db"].unlink()  # offline: no database at all
    code, out, err = run(
        capsys, "audit", "verify", "--file", str(export), "--key", str(deployment["pub"]), "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["tree_size"] == 10 and doc["checkpoints_verified"] == 2 and doc["witnessed_checkpoints"] == 2
    code, out, err = run(
        capsys,
        "audit",
        "verify",
        "--file",
        str(export),
        "--key",
        str(deployment["pub"]),
        "--certificate",
        str(deployment["cert"]),
    )
    assert code == 0 and "1 in certificates" in out
    code, _, err = run(capsys, "audit", "verify", "--file", str(export))
    assert code == 2 and "--key PUB.pem" in err
    lines = export.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"request_id":"r2"', '"request_id":"r7"')
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(lines))
    code, _, err = run(capsys, "audit", "verify", "--file", str(edited), "--key", str(deployment["pub"]))
    assert code == 1 and err.startswith("error: audit log entry 2: modified")


def test_consistency_proof_is_verified_offline(
    deployment: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    proof_file = tmp_path / "proof.json"
    code, out, err = run(capsys, "audit", "consistency", "6", "10", "--out", str(proof_file), "--json")
    assert code == 0, err
    proof = json.loads(out)
    assert proof["old_checkpoint"] and proof["new_checkpoint"] and proof["proof"]
    pub = str(deployment["pub"])
    code, out, err = run(capsys, "audit", "consistency", "--verify", str(proof_file), "--key", pub)
    assert code == 0 and out.startswith("valid: the signed log of 6 entries is a prefix"), err
    proof["proof"][0] = "ab" * 32
    proof_file.write_text(json.dumps(proof))
    code, _, err = run(capsys, "audit", "consistency", "--verify", str(proof_file), "--key", pub)
    assert code == 1 and "does not hold" in err
    code, _, err = run(capsys, "audit", "consistency", "--verify", str(proof_file))
    assert code == 2 and "--key" in err


def test_dropped_checkpoints_are_caught_by_the_certificate_and_the_witness(
    deployment: dict[str, Path], capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    assert run(capsys, "audit", "verify")[0] == 0
    engine = sa.create_engine(f"sqlite:///{deployment['db']}")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_checkpoints"))
    engine.dispose()
    code, out, err = run(capsys, "audit", "verify", "--json")
    assert code == 1 and json.loads(out)["valid"] is False
    assert "held by the witness is missing from the ledger" in err
    (home / "witness" / "checkpoints.jsonl").unlink()  # the certificate under HOME still holds one
    code, _, err = run(capsys, "audit", "verify")
    assert code == 1 and "held by certificate job-a.intoto.json is missing from the ledger" in err
