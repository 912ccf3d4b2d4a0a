"""The tamper-evident audit log: RFC 9162 Merkle tree over RFC 8785 events, C2SP signed checkpoints,
a witness store outside the database, offline export verification and key rotation."""

from __future__ import annotations

from deletion_sdk.audit.checkpoint import (
    DEFAULT_ORIGIN,
    Checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from deletion_sdk.audit.consistency import ConsistencyEvidence, verify_consistency_proof
from deletion_sdk.audit.deployment import deployment_audit_log, verify_deployment_log
from deletion_sdk.audit.events import AuditEvent, NewEvent
from deletion_sdk.audit.export import ExportFile, export_log, verify_export
from deletion_sdk.audit.log import AuditEntry, AuditLog, ConsistencyProof, InclusionProof, SignedCheckpoint
from deletion_sdk.audit.note import note_key_hash, sign_note, verify_note
from deletion_sdk.audit.rotation import KeyRotation, rotate_signing_key
from deletion_sdk.audit.store import AuditStore
from deletion_sdk.audit.verify import (
    AuditVerification,
    CertificateAuditEvidence,
    verify_audit_log,
    verify_certificate_audit,
)
from deletion_sdk.audit.witness import WitnessedCheckpoint, WitnessStore, witness_path

__all__ = [
    "DEFAULT_ORIGIN",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "AuditStore",
    "AuditVerification",
    "CertificateAuditEvidence",
    "Checkpoint",
    "ConsistencyEvidence",
    "ConsistencyProof",
    "ExportFile",
    "InclusionProof",
    "KeyRotation",
    "NewEvent",
    "SignedCheckpoint",
    "WitnessStore",
    "WitnessedCheckpoint",
    "deployment_audit_log",
    "export_log",
    "note_key_hash",
    "open_checkpoint",
    "parse_checkpoint",
    "rotate_signing_key",
    "sign_checkpoint",
    "sign_note",
    "verify_audit_log",
    "verify_certificate_audit",
    "verify_consistency_proof",
    "verify_deployment_log",
    "verify_export",
    "verify_note",
    "witness_path",
]
