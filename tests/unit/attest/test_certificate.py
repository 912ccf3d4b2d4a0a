"""Certificates end to end: build, sign, write, verify offline; every tamper raises SignatureError."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deletion_sdk.attest import (
    INTOTO_PAYLOAD_TYPE,
    PREDICATE_TYPE,
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
    canonical_json,
    certificate_path,
    generate_keypair,
    load_signer,
    pae,
    sign_certificate,
    sign_envelope,
    verify_certificate,
    write_certificate,
)
from deletion_sdk.audit import AuditLog, verify_certificate_audit
from deletion_sdk.errors import AuditLogError, InputError, SignatureError
from deletion_sdk.ledger.db import Ledger

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
SUBJECT_REF = "c" * 64
RAW_IDENTIFIER = "alice@example.com"


def _digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _predicate(signer: Ed25519Signer, audit: AuditRecord, **changes: Any) -> CertificatePredicate:
    fields: dict[str, Any] = {
        "job_id": "job-0001",
        "requests": (
            RequestRecord(
                request_id="req-1",
                subject_ref=SUBJECT_REF,
                received_at=T0,
                due_at=T0 + timedelta(days=30),
                completed_at=T0 + timedelta(days=2),
                policy_id="gdpr-art17",
            ),
        ),
        "policy": PolicyRef(id="gdpr-art17", digest="sha256:" + _digest("policy")),
        "forget_set": ForgetSetRef(size=12, merkle_root=_digest("forget")),
        "original_model": ModelRef(digest=_digest("v1"), version="age-cnn/1"),
        "unlearned_model": ModelRef(digest=_digest("v2"), version="age-cnn/2"),
        "unlearner": UnlearnerRecord(
            name="scrub", version="1.0", parameters={"lr": 0.01, "epochs": 2}, wall_time_s=12.5, device="cpu"
        ),
        "verification": VerificationSummary(tier="population", figures={"mia_auc": 0.51, "retain_acc": 0.9}),
        "decision": DecisionRecord(passed=True, checks=({"name": "mia_auc", "value": 0.51, "passed": True},)),
        "audit": audit,
        "issued_at": T0 + timedelta(days=2),
        "sdk_version": "0.1.0",
        "signer_key_id": signer.key_id,
    }
    fields.update(changes)
    return CertificatePredicate(**fields)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Ed25519Signer, Path]:
    info = generate_keypair(tmp_path / "keys")
    return load_signer(tmp_path / "keys"), info.public_key_path


@pytest.fixture
def audit(sqlite_url: str, keys: tuple[Ed25519Signer, Path]) -> AuditRecord:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        log = AuditLog(ledger, signer=keys[0])
        for i in range(4):
            log.append(
                "request.completed", {"request_id": f"req-{i}", "subject_ref": SUBJECT_REF}, actor="batch"
            )
        entry = log.append("certificate.issued", {"job_id": "job-0001"}, actor="batch")
        log.append("job.finished", {"job_id": "job-0001"}, actor="batch")
        return log.audit_record(entry.index)
    finally:
        ledger.dispose()


@pytest.fixture
def certificate(tmp_path: Path, keys: tuple[Ed25519Signer, Path], audit: AuditRecord) -> Path:
    signer, _ = keys
    envelope = sign_certificate(_predicate(signer, audit), signer=signer)
    return write_certificate(envelope, certificate_path(tmp_path / "certs", "job-0001"))


def test_certificate_is_an_intoto_statement_in_a_dsse_envelope(
    certificate: Path, keys: tuple[Ed25519Signer, Path]
) -> None:
    signer, public = keys
    assert certificate.name == "job-0001.intoto.json"
    doc = json.loads(certificate.read_text())
    assert doc["payloadType"] == INTOTO_PAYLOAD_TYPE
    payload = base64.b64decode(doc["payload"])
    statement = json.loads(payload)
    assert payload == canonical_json(statement)  # RFC 8785 bytes are what was signed
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [{"name": "age-cnn/2", "digest": {"sha256": _digest("v2")}}]
    assert statement["predicate"]["policy"]["digest"] == _digest("policy")  # 'sha256:' prefix normalised
    signer.public_key.verify(base64.b64decode(doc["signatures"][0]["sig"]), pae(INTOTO_PAYLOAD_TYPE, payload))

    verified = verify_certificate(certificate, public)
    assert verified.key_id == signer.key_id
    assert verified.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert verified.predicate.requests[0].subject_ref == SUBJECT_REF
    assert verified.predicate.unlearner.parameters == {"lr": 0.01, "epochs": 2}
    assert RAW_IDENTIFIER not in certificate.read_text()
    # the same bytes as text or bytes
    assert (
        verify_certificate(certificate.read_text(), signer.public_key).payload_sha256
        == verified.payload_sha256
    )
    assert verify_certificate(certificate.read_bytes(), public.read_bytes()).key_id == signer.key_id


def test_audit_section_verifies_against_the_signed_checkpoint(
    certificate: Path, keys: tuple[Ed25519Signer, Path]
) -> None:
    signer, public = keys
    verified = verify_certificate(certificate, public)
    evidence = verify_certificate_audit(verified, public_key=signer.public_key)
    assert (evidence.entry_index, evidence.tree_size, evidence.event_type) == (4, 6, "certificate.issued")


def _tampered(certificate: Path, mutate: Any) -> str:
    doc = json.loads(certificate.read_text())
    mutate(doc)
    return json.dumps(doc)


def _flip_b64(text: str, position: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[position] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("position", [0, 50, 400, -3])
def test_byte_flipped_in_payload(certificate: Path, keys: tuple[Ed25519Signer, Path], position: int) -> None:
    bad = _tampered(certificate, lambda d: d.update(payload=_flip_b64(d["payload"], position)))
    with pytest.raises(SignatureError):
        verify_certificate(bad, keys[1])


@pytest.mark.parametrize("position", [0, 32, 63])
def test_byte_flipped_in_signature(
    certificate: Path, keys: tuple[Ed25519Signer, Path], position: int
) -> None:
    def flip(d: dict[str, Any]) -> None:
        d["signatures"][0]["sig"] = _flip_b64(d["signatures"][0]["sig"], position)

    with pytest.raises(SignatureError):
        verify_certificate(_tampered(certificate, flip), keys[1])


def test_wrong_key(certificate: Path, tmp_path: Path) -> None:
    stranger = generate_keypair(tmp_path / "stranger")
    with pytest.raises(SignatureError):
        verify_certificate(certificate, stranger.public_key_path)


def test_wrong_payload_type(certificate: Path, keys: tuple[Ed25519Signer, Path]) -> None:
    bad = _tampered(certificate, lambda d: d.update(payloadType="application/json"))
    with pytest.raises(SignatureError, match="payloadType"):
        verify_certificate(bad, keys[1])


def test_url_safe_unpadded_encoding_is_accepted(certificate: Path, keys: tuple[Ed25519Signer, Path]) -> None:
    def recode(d: dict[str, Any]) -> None:
        d["payload"] = base64.urlsafe_b64encode(base64.b64decode(d["payload"])).decode().rstrip("=")
        sig = d["signatures"][0]["sig"]
        d["signatures"][0]["sig"] = base64.urlsafe_b64encode(base64.b64decode(sig)).decode().rstrip("=")

    assert verify_certificate(_tampered(certificate, recode), keys[1]).predicate.job_id == "job-0001"


def _resign(signer: Ed25519Signer, statement: dict[str, Any]) -> str:
    return sign_envelope(canonical_json(statement), payload_type=INTOTO_PAYLOAD_TYPE, signer=signer).to_json()


def test_bad_predicate_type_or_subject_even_when_validly_signed(
    certificate: Path, keys: tuple[Ed25519Signer, Path]
) -> None:
    signer, public = keys
    statement = json.loads(base64.b64decode(json.loads(certificate.read_text())["payload"]))
    other_type = {**statement, "predicateType": "https://slsa.dev/provenance/v1"}
    with pytest.raises(SignatureError, match="predicateType"):
        verify_certificate(_resign(signer, other_type), public)
    other_subject = {**statement, "subject": [{"name": "x", "digest": {"sha256": _digest("other")}}]}
    with pytest.raises(SignatureError, match="subject"):
        verify_certificate(_resign(signer, other_subject), public)
    broken = {**statement, "predicate": {**statement["predicate"], "forget_set": {"size": -1}}}
    with pytest.raises(SignatureError, match="forget_set"):
        verify_certificate(_resign(signer, broken), public)
    not_statement = {"_type": "https://in-toto.io/Statement/v0.1", "subject": [], "predicate": {}}
    with pytest.raises(SignatureError, match="in-toto Statement"):
        verify_certificate(_resign(signer, not_statement), public)


def test_tampered_audit_section_is_detected(
    keys: tuple[Ed25519Signer, Path], audit: AuditRecord, tmp_path: Path
) -> None:
    signer, public = keys
    cases = {
        "proof": audit.model_copy(
            update={"inclusion_proof": (audit.inclusion_proof[0][::-1], *audit.inclusion_proof[1:])}
        ),
        "index": audit.model_copy(update={"entry_index": 3}),
        "root": audit.model_copy(update={"root_hash": _digest("other root")}),
        "size": audit.model_copy(update={"tree_size": 5}),
        "checkpoint": audit.model_copy(update={"checkpoint": audit.checkpoint.replace("\n6\n", "\n7\n")}),
        "event": audit.model_copy(update={"event": {**(audit.event or {}), "actor": "someone-else"}}),
    }
    for name, record in cases.items():
        envelope = sign_certificate(_predicate(signer, record), signer=signer)
        verified = verify_certificate(envelope.to_json(), public)  # the signature itself is fine …
        with pytest.raises(AuditLogError):  # … but the audit evidence it carries is not
            verify_certificate_audit(verified, public_key=signer.public_key)
            pytest.fail(f"tampered audit {name} was accepted")


def test_raw_identifiers_are_refused_and_never_echoed(
    keys: tuple[Ed25519Signer, Path], audit: AuditRecord
) -> None:
    with pytest.raises(ValueError) as info:
        RequestRecord(
            request_id="r",
            subject_ref=RAW_IDENTIFIER,
            received_at=T0,
            due_at=T0,
            policy_id="p",
        )
    assert RAW_IDENTIFIER not in str(info.value)


def test_signer_key_id_must_match(keys: tuple[Ed25519Signer, Path], audit: AuditRecord) -> None:
    signer, _ = keys
    other = Ed25519Signer(Ed25519PrivateKey.generate())
    with pytest.raises(InputError, match="signer_key_id"):
        sign_certificate(_predicate(signer, audit), signer=other)


def test_certificate_file_names(tmp_path: Path) -> None:
    assert certificate_path(tmp_path, "job-7").name == "job-7.intoto.json"
    for bad in ["../escape", "", "a/b", ".hidden"]:
        with pytest.raises(InputError, match="'job_id'"):
            certificate_path(tmp_path, bad)
