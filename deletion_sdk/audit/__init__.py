"""The tamper-evident audit log: RFC 9162 Merkle tree over RFC 8785 events, C2SP signed checkpoints."""

from __future__ import annotations

from deletion_sdk.audit.checkpoint import (
    DEFAULT_ORIGIN,
    Checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from deletion_sdk.audit.events import AuditEvent, NewEvent
from deletion_sdk.audit.log import AuditEntry, AuditLog, ConsistencyProof, InclusionProof, SignedCheckpoint
from deletion_sdk.audit.note import note_key_hash, sign_note, verify_note
from deletion_sdk.audit.store import AuditStore
from deletion_sdk.audit.verify import (
    AuditVerification,
    CertificateAuditEvidence,
    verify_audit_log,
    verify_certificate_audit,
)

__all__ = [
    "DEFAULT_ORIGIN",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "AuditStore",
    "AuditVerification",
    "CertificateAuditEvidence",
    "Checkpoint",
    "ConsistencyProof",
    "InclusionProof",
    "NewEvent",
    "SignedCheckpoint",
    "note_key_hash",
    "open_checkpoint",
    "parse_checkpoint",
    "sign_checkpoint",
    "sign_note",
    "verify_audit_log",
    "verify_certificate_audit",
    "verify_note",
]
