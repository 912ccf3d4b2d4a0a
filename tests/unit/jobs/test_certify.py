"""``jobs.certify``: the one full check of a certificate file, and idempotent writing of an issued one.

Real Ed25519 keys, a real SQLite audit log, real files.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deletion_sdk.attest import (
    AuditRecord,
    CertificatePredicate,
    DecisionRecord,
    Ed25519Signer,
    ForgetSetRef,
    ModelRef,
    PolicyRef,
    RequestRecord,
    UnlearnerRecord,
    VerificationSummary,
    certificate_path,
    generate_keypair,
    load_signer,
    sign_certificate,
    verify_certificate,
    write_certificate,
)
from deletion_sdk.audit import AuditLog
from deletion_sdk.errors import AuditLogError, CertificateFormatError, ConfigurationError, SignatureError
from deletion_sdk.jobs.certify import (
    CERTIFICATE_EVENT,
    CertificateVerification,
    predicate_digest,
    verify_certificate_file,
    write_issued_certificate,
)
from deletion_sdk.ledger.db import Ledger

T0 = datetime(2025, 4, 1, 12, tzinfo=UTC)
PLACEHOLDER = AuditRecord(tree_size=1, root_hash="0" * 64, entry_index=0, leaf_hash="0" * 64, checkpoint="-")


def _sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _predicate(signer: Ed25519Signer, audit: AuditRecord) -> CertificatePredicate:
    return CertificatePredicate(
        job_id="job-42",
        requests=(
            RequestRecord(
                request_id="req-1", subject_ref="f" * 64, received_at=T0, due_at=T0, policy_id="gdpr-art17"
            ),
        ),
        policy=PolicyRef(id="gdpr-art17", digest=_sha("policy")),
        forget_set=ForgetSetRef(size=5, merkle_root=_sha("forget")),
        original_model=ModelRef(digest=_sha("m1"), version="age@v1"),
        unlearned_model=ModelRef(digest=_sha("m2"), version="age@v2"),
        unlearner=UnlearnerRecord(name="finetune", version="1", wall_time_s=3.0, device="cpu"),
        verification=VerificationSummary(tier="population", figures={"mia_auc": 0.52}),
        decision=DecisionRecord(passed=True, checks=({"name": "mia_auc", "passed": True},)),
        audit=audit,
        issued_at=T0,
        sdk_version="0.1.0",
        signer_key_id=signer.key_id,
    )


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519Signer:
    generate_keypair(tmp_path / "keys")
    return load_signer(tmp_path / "keys")


@pytest.fixture
def ledger(sqlite_url: str) -> Iterator[Ledger]:
    opened = Ledger.open(sqlite_url, create=True)
    yield opened
    opened.dispose()


def _issue(
    ledger: Ledger, signer: Ed25519Signer, directory: Path, *, log_signer: Ed25519Signer | None = None
) -> Path:
    """Issue as ``issue_certificate`` does: append the bound event, then sign the predicate with its proof."""
    log = AuditLog(ledger, signer=log_signer or signer)
    log.append("request.completed", {"request_id": "req-1"}, actor="batch")
    digest = predicate_digest(_predicate(signer, PLACEHOLDER))
    entry = log.append(
        CERTIFICATE_EVENT, {"job_id": "job-42", "predicate_sha256": digest}, actor="job:job-42"
    )
    log.append("job.finished", {"job_id": "job-42"}, actor="batch")
    predicate = _predicate(signer, log.audit_record(entry.index))
    return write_certificate(
        sign_certificate(predicate, signer=signer), certificate_path(directory, "job-42")
    )


def test_a_bound_certificate_verifies_with_all_its_evidence(
    ledger: Ledger, signer: Ed25519Signer, tmp_path: Path
) -> None:
    path = _issue(ledger, signer, tmp_path / "certs")
    result = verify_certificate_file(path, public_key=tmp_path / "keys" / "signing.pub")
    assert isinstance(result, CertificateVerification)
    assert result.certificate == verify_certificate(path, signer.public_key)
    assert result.predicate_sha256 == predicate_digest(result.certificate.predicate)
    assert (result.audit.entry_index, result.audit.tree_size) == (1, 3)
    assert result.audit.event_type == CERTIFICATE_EVENT
    # every key form gives the same evidence: a key object, a key directory, a path given as str
    assert verify_certificate_file(str(path), public_key=signer.public_key) == result
    assert verify_certificate_file(path, public_key=tmp_path / "keys") == result


def test_the_log_key_may_differ_from_the_signer_key(
    ledger: Ledger, signer: Ed25519Signer, tmp_path: Path
) -> None:
    generate_keypair(tmp_path / "log-keys")
    log_signer = load_signer(tmp_path / "log-keys")
    path = _issue(ledger, signer, tmp_path / "certs", log_signer=log_signer)
    with pytest.raises(AuditLogError, match="checkpoint does not verify"):
        verify_certificate_file(path, public_key=signer.public_key)
    result = verify_certificate_file(
        path, public_key=signer.public_key, log_public_key=tmp_path / "log-keys" / "signing.pub"
    )
    assert result.certificate.key_id == signer.key_id


def test_each_check_fails_closed(ledger: Ledger, signer: Ed25519Signer, tmp_path: Path) -> None:
    path = _issue(ledger, signer, tmp_path / "certs")
    envelope = json.loads(path.read_text())

    sig = envelope["signatures"][0]["sig"]
    bad_sig = {
        **envelope,
        "signatures": [{**envelope["signatures"][0], "sig": ("A" if sig[0] != "A" else "B") + sig[1:]}],
    }
    (tmp_path / "bad-sig.intoto.json").write_text(json.dumps(bad_sig))
    with pytest.raises(SignatureError):
        verify_certificate_file(tmp_path / "bad-sig.intoto.json", public_key=signer.public_key)

    generate_keypair(tmp_path / "other")
    with pytest.raises(SignatureError):
        verify_certificate_file(path, public_key=tmp_path / "other" / "signing.pub")
    with pytest.raises(ConfigurationError):
        verify_certificate_file(path, public_key=tmp_path / "missing.pub")
    with pytest.raises(CertificateFormatError, match="cannot read"):  # bad input, not a failed check
        verify_certificate_file(tmp_path / "missing.intoto.json", public_key=signer.public_key)

    # a broken inclusion proof, signed again so that only the audit check can catch it
    predicate = verify_certificate(path, signer.public_key).predicate
    wrong_leaf = predicate.audit.model_copy(update={"leaf_hash": _sha("another leaf"), "event": None})
    forged = write_certificate(
        sign_certificate(predicate.model_copy(update={"audit": wrong_leaf}), signer=signer),
        certificate_path(tmp_path / "forged-proof", "job-42"),
    )
    with pytest.raises(AuditLogError, match="inclusion proof"):
        verify_certificate_file(forged, public_key=signer.public_key)

    # other content under the same audit entry, re-signed with the same key: only the binding catches it
    other: dict[str, Any] = {"decision": DecisionRecord(passed=False)}
    resigned = write_certificate(
        sign_certificate(predicate.model_copy(update=other), signer=signer),
        certificate_path(tmp_path / "forged-content", "job-42"),
    )
    with pytest.raises(AuditLogError, match="names a different certificate"):
        verify_certificate_file(resigned, public_key=signer.public_key)


def test_write_issued_certificate_is_idempotent_and_replaces_a_partial_file(
    ledger: Ledger, signer: Ed25519Signer, tmp_path: Path
) -> None:
    issued = _issue(ledger, signer, tmp_path / "issued")
    envelope_json = issued.read_text().strip()
    target = certificate_path(tmp_path / "certs", "job-42")

    assert write_issued_certificate(envelope_json, target) == target
    first = target.read_bytes()
    inode, mtime = target.stat().st_ino, target.stat().st_mtime_ns
    assert write_issued_certificate(envelope_json, target) == target  # identical file: left untouched
    assert target.read_bytes() == first
    assert (target.stat().st_ino, target.stat().st_mtime_ns) == (inode, mtime)

    target.write_bytes(first[: len(first) // 2])  # a crash mid-write (no atomic rename) left half a file
    write_issued_certificate(envelope_json, target)
    assert target.read_bytes() == first
    assert (
        verify_certificate_file(target, public_key=signer.public_key).certificate.predicate.job_id == "job-42"
    )

    other = json.loads(envelope_json)
    other["payload"] = base64.b64encode(b'{"another": "statement"}').decode()
    target.write_text(json.dumps(other))  # a whole but different envelope is replaced too
    write_issued_certificate(envelope_json, target)
    assert target.read_bytes() == first
