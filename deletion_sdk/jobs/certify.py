"""Issuing a job's certificate (bind it into the audit log, then sign it) and verifying one.

The certificate must carry the inclusion proof of its own audit entry, so the entry cannot hold the
signed certificate. Instead it holds ``predicate_sha256``: the SHA-256 of the RFC 8785 bytes of the
predicate *without* its ``audit`` section (:func:`~deletion_sdk.attest.verify.predicate_digest`). A
verifier recomputes that digest from the certificate and compares it with the event the proof leads to
(:func:`~deletion_sdk.attest.verify.check_audit_binding`), which ties this exact certificate content to a
signed tree head of the log. :func:`verify_certificate_file` is the one full check of a certificate file
(signature, audit checkpoint and inclusion proof, audit binding): the CLI and ``DeletionSDK`` both call it.

Ed25519 signatures are deterministic, so re-writing the envelope after a crash reproduces the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

import deletion_sdk
from deletion_sdk.attest import (
    AttemptRecord,
    AuditRecord,
    CertificatePredicate,
    DecisionRecord,
    Envelope,
    ForgetSetRef,
    ModelRef,
    PolicyRef,
    UnlearnerRecord,
    VerificationSummary,
    certificate_path,
    parse_envelope,
    sign_certificate,
    write_certificate,
)
from deletion_sdk.attest import RequestRecord as CertRequest
from deletion_sdk.attest.certificate import ErasedArtifactRecord, ObligationRecord
from deletion_sdk.attest.keys import Signer, Verifier, load_verifier
from deletion_sdk.attest.verify import (
    CERTIFICATE_EVENT,
    VerifiedCertificate,
    check_audit_binding,
    predicate_digest,
    verify_certificate,
)
from deletion_sdk.audit import AuditLog
from deletion_sdk.audit.verify import CertificateAuditEvidence, verify_certificate_audit
from deletion_sdk.erasure.records import ErasedArtifact, Obligation
from deletion_sdk.errors import JobError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.job_state import Attempt
from deletion_sdk.ledger.records import ModelVersionRecord, RequestRecord
from deletion_sdk.policy import Policy

if TYPE_CHECKING:  # only annotated here; importing it at run time would load torch for `certificate verify`
    from deletion_sdk.verification import VerificationReport

__all__ = [
    "CERTIFICATE_EVENT",
    "CertificateVerification",
    "IssuedCertificate",
    "check_audit_binding",
    "issue_certificate",
    "predicate_digest",
    "verify_certificate_file",
]

PublicKey = Verifier | Ed25519PublicKey | Path | str | bytes


@dataclass(frozen=True)
class IssuedCertificate:
    path: Path
    envelope_json: str
    payload_sha256: str
    audit_index: int
    issued_at: datetime


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None (RFC 8785 has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _version(record: ModelVersionRecord) -> str:
    return f"{record.name}@v{record.version}"


def issue_certificate(
    session: Session,
    *,
    audit: AuditLog,
    signer: Signer,
    job_id: str,
    requests: Sequence[RequestRecord],
    policy: Policy,
    forget_count: int,
    forget_root: str,
    original: ModelVersionRecord,
    unlearned: ModelVersionRecord,
    attempt: Attempt,
    earlier: Sequence[Attempt] = (),
    report: VerificationReport,
    report_sha256: str,
    directory: Path,
    qualification_report_digest: str | None = None,
    erased: Sequence[ErasedArtifact] = (),
    obligations: Sequence[Obligation] = (),
) -> IssuedCertificate:
    """Append the certificate's audit entry, sign a checkpoint and the certificate (in ``session``)."""
    issued_at = utcnow()
    decision = attempt.decision
    if decision is None:
        raise JobError(f"batch job {job_id}: attempt {attempt.index + 1} has no decision to certify")
    core: dict[str, Any] = {
        "job_id": job_id,
        "requests": tuple(
            CertRequest(
                request_id=r.request_id,
                subject_ref=r.subject_ref,
                received_at=r.received_at,
                due_at=r.due_at,
                completed_at=issued_at,
                policy_id=r.policy,
            )
            for r in requests
        ),
        "policy": PolicyRef(id=policy.id, digest=policy.digest),
        "forget_set": ForgetSetRef(size=forget_count, merkle_root=forget_root),
        "original_model": ModelRef(digest=original.weights_digest, version=_version(original)),
        "unlearned_model": ModelRef(digest=unlearned.weights_digest, version=_version(unlearned)),
        "unlearner": UnlearnerRecord(
            name=attempt.method,
            version=attempt.method_version or "unknown",
            parameters=_finite(attempt.params),
            wall_time_s=attempt.wall_time_s or 0.0,
            device=attempt.device or "cpu",
            class_path=attempt.unlearner_class,
            source=attempt.unlearner_source,
            code_sha256=attempt.code_sha256,
        ),
        "attempts": tuple(
            AttemptRecord(
                method=a.method,
                outcome=a.outcome.final,
                summary="" if a.decision is None else a.decision.summary(),
            )
            for a in (*earlier, attempt)
        ),
        "verification": VerificationSummary(
            tier=str(report.tier),
            figures=_finite(report.figures.model_dump(mode="json")),
            report_digest=report_sha256,
        ),
        "decision": DecisionRecord(
            passed=decision.passed,
            basis=decision.basis,
            checks=tuple(_finite(c.model_dump(mode="json")) for c in decision.checks),
        ),
        "qualification_report_digest": qualification_report_digest,
        "issued_at": issued_at,
        "sdk_version": deletion_sdk.__version__,
        "signer_key_id": signer.key_id,
        "erased_artifacts": tuple(
            ErasedArtifactRecord(kind=a.kind.value, digest=a.digest, erased_at=a.erased_at, detail=a.detail)
            for a in erased
        ),
        "remaining_obligations": tuple(
            ObligationRecord(kind=o.kind, description=o.description, due_at=o.due_at, digest=o.digest)
            for o in obligations
        ),
    }
    placeholder = AuditRecord(
        tree_size=1, root_hash="0" * 64, entry_index=0, leaf_hash="0" * 64, checkpoint="pending"
    )
    digest = predicate_digest(CertificatePredicate(**core, audit=placeholder))
    entry = audit.append(
        CERTIFICATE_EVENT,
        {"job_id": job_id, "unlearned_model_sha256": unlearned.weights_digest, "predicate_sha256": digest},
        actor=f"job:{job_id}",
        session=session,
    )
    record: AuditRecord = audit.audit_record(entry.index, session=session)
    predicate = CertificatePredicate(**core, audit=record)
    envelope = sign_certificate(predicate, signer=signer, subject_name=_version(unlearned))
    envelope_json = envelope.to_json()
    return IssuedCertificate(
        path=certificate_path(directory, job_id),
        envelope_json=envelope_json,
        payload_sha256=hashlib.sha256(base64.b64decode(json.loads(envelope_json)["payload"])).hexdigest(),
        audit_index=entry.index,
        issued_at=issued_at,
    )


def write_issued_certificate(envelope_json: str, path: Path) -> Path:
    """Write the recorded envelope to ``path`` unless an identical file is already there."""
    envelope: Envelope = parse_envelope(envelope_json)
    if path.is_file():
        try:
            if parse_envelope(path.read_text()).to_json() == envelope.to_json():
                return path
        except Exception:  # an unreadable partial file is simply replaced
            pass
    return write_certificate(envelope, path)


class CertificateVerification(BaseModel):
    """Evidence returned by :func:`verify_certificate_file`: every check of a certificate held.

    Attributes:
        certificate: statement, predicate, key id and payload digest, parsed from the verified bytes.
        audit: the audit entry, tree size and root the inclusion proof and signed checkpoint established.
        predicate_sha256: the predicate digest that audit entry names (the binding).
    """

    model_config = ConfigDict(frozen=True)

    certificate: VerifiedCertificate
    audit: CertificateAuditEvidence
    predicate_sha256: str


def _verifier(key: PublicKey) -> Verifier:
    return key if isinstance(key, Verifier) else load_verifier(key)


def verify_certificate_file(
    path: Path | str, *, public_key: PublicKey, log_public_key: PublicKey | None = None
) -> CertificateVerification:
    """Verify a ``*.intoto.json`` certificate file completely; fail closed.

    Three checks, in order: the DSSE signature and the statement (``attest.verify_certificate``); the audit
    section's signed checkpoint and inclusion proof (``audit.verify_certificate_audit``); and the binding:
    the audit entry names this certificate's predicate digest (``attest.verify.check_audit_binding``).

    Args:
        path: the certificate file.
        public_key: the signer's public key (a Verifier, an Ed25519 key, PEM bytes, a PEM file or a key
            directory).
        log_public_key: the audit log's key when it differs from ``public_key`` (default: the same key).

    Returns:
        The verified certificate with the audit evidence and the bound predicate digest.

    Raises:
        SignatureError: the file is unreadable or malformed, or the signature or statement does not verify.
        AuditLogError: the checkpoint, the inclusion proof or the audit binding does not hold.
        ConfigurationError: a key cannot be loaded.
    """
    signer_key = _verifier(public_key)
    log_key = signer_key if log_public_key is None else _verifier(log_public_key)
    verified = verify_certificate(Path(path), signer_key)
    audit = verify_certificate_audit(verified, public_key=log_key)
    bound = check_audit_binding(verified.predicate)
    return CertificateVerification(certificate=verified, audit=audit, predicate_sha256=bound)
