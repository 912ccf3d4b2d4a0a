"""Offline verification of unlearning certificates: fail closed, return only verified content.

``verify_certificate`` checks the DSSE signature over the exact payload bytes first; only those bytes are
then parsed (as an in-toto Statement v1 whose predicate type is the unlearning certificate's). Anything
else - a flipped byte in the payload or the signature, another key, another payload type, another
predicate type, a subject that is not the unlearned model - raises :class:`SignatureError`.
The same check can be done with generic DSSE/in-toto tooling given ``signing.pub``.

The certificate must carry the inclusion proof of its own audit entry, so that entry cannot hold the signed
certificate. It holds ``predicate_sha256`` instead: :func:`predicate_digest`, the SHA-256 of the RFC 8785
bytes of the predicate *without* its ``audit`` section. :func:`check_audit_binding` recomputes that digest
from a verified predicate and compares it with the event its audit section carries; together with the
inclusion proof and signed checkpoint (``deletion_sdk.audit.verify_certificate_audit``) this ties this
exact certificate content to a signed tree head of the log. Without it, a predicate changed and re-signed
with the same key would still verify, pointing at an audit entry recorded for other content.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from deletion_sdk.attest.certificate import PREDICATE_TYPE, CertificatePredicate
from deletion_sdk.attest.document import read_certificate_file
from deletion_sdk.attest.dsse import (
    INTOTO_PAYLOAD_TYPE,
    Envelope,
    b64decode_any,
    parse_envelope,
    verify_envelope,
)
from deletion_sdk.attest.jcs import canonical_digest
from deletion_sdk.attest.keys import Verifier, load_verifier
from deletion_sdk.attest.statement import Statement
from deletion_sdk.errors import AuditLogError, InputError, SignatureError, VerificationError

__all__ = [
    "CERTIFICATE_EVENT",
    "VerifiedCertificate",
    "check_artifact",
    "check_audit_binding",
    "check_job",
    "predicate_digest",
    "read_certificate_unverified",
    "verify_certificate",
]

CERTIFICATE_EVENT = "certificate.issued"


class VerifiedCertificate(BaseModel):
    """Evidence returned by :func:`verify_certificate`: content parsed from verified bytes only."""

    model_config = ConfigDict(frozen=True)

    statement: Statement
    predicate: CertificatePredicate
    key_id: str
    payload_sha256: str


def _load(data: bytes | str | Path | Envelope) -> bytes | str | Envelope:
    if isinstance(data, Envelope | bytes):
        return data
    if isinstance(data, str) and data.lstrip().startswith("{"):
        return data
    return read_certificate_file(data)  # unreadable, not JSON, too deep: bad input, not a failed check


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _parse_statement(payload: bytes) -> Statement:
    try:
        obj = json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates)
        return Statement.model_validate(obj)
    except (UnicodeDecodeError, ValueError) as e:
        reason = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise SignatureError(f"the signed payload is not an in-toto Statement v1: {reason}") from e


def verify_certificate(
    data: bytes | str | Path | Envelope,
    public_key: Verifier | Ed25519PublicKey | Path | str | bytes,
) -> VerifiedCertificate:
    """Verify a certificate and return its content.

    Args:
        data: the ``*.intoto.json`` envelope - a path, JSON text (a ``str`` starting with ``{``) or bytes.
        public_key: the signer's public key: a Verifier, an Ed25519 key, PEM bytes, or a PEM file path.

    Returns:
        The statement and predicate parsed from the verified payload, the key id, the payload's SHA-256.

    Raises:
        SignatureError: any failure (unreadable, malformed, wrong key, tampered, wrong types).
        ConfigurationError: ``public_key`` cannot be loaded.
    """
    verifier = public_key if isinstance(public_key, Verifier) else load_verifier(public_key)
    payload = verify_envelope(_load(data), verifier=verifier, payload_type=INTOTO_PAYLOAD_TYPE)
    statement = _parse_statement(payload)
    if statement.predicate_type != PREDICATE_TYPE:
        raise SignatureError(f"predicateType is {statement.predicate_type!r}; expected {PREDICATE_TYPE!r}")
    try:
        predicate = CertificatePredicate.model_validate(statement.predicate)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SignatureError(f"the signed predicate is malformed at '{where}': {first['msg']}") from e
    digests = {s.digest.get("sha256") for s in statement.subject}
    if predicate.unlearned_model.digest not in digests:
        raise SignatureError("the statement's subject is not the unlearned model named in the predicate")
    if predicate.signer_key_id != verifier.key_id:
        raise SignatureError(
            f"the predicate names signer key {predicate.signer_key_id[:16]}… but it verified under "
            f"{verifier.key_id[:16]}…"
        )
    return VerifiedCertificate(
        statement=statement,
        predicate=predicate,
        key_id=verifier.key_id,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )


def read_certificate_unverified(data: bytes | str | Path | Envelope) -> dict[str, Any]:
    """UNVERIFIED: the statement inside an envelope, for display only - never for decisions.

    Raises:
        SignatureError: the envelope or its payload cannot be decoded at all.
    """
    envelope = parse_envelope(_load(data))
    try:
        payload = b64decode_any(envelope.payload)
        obj = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise SignatureError(f"the envelope payload cannot be decoded: {e}") from e
    if not isinstance(obj, dict):
        raise SignatureError("the envelope payload is not a JSON object")
    return obj


def predicate_digest(predicate: CertificatePredicate | dict[str, Any]) -> str:
    """SHA-256 (hex) of the RFC 8785 bytes of the predicate without its ``audit`` section."""
    data = (
        predicate.model_dump(mode="json") if isinstance(predicate, CertificatePredicate) else dict(predicate)
    )
    data.pop("audit", None)
    return canonical_digest(data)


def check_audit_binding(predicate: CertificatePredicate) -> str:
    """Check that the certificate's audit event names this certificate's content.

    Only meaningful on a predicate parsed from verified bytes (:func:`verify_certificate`) whose audit
    section was checked against a signed checkpoint (``deletion_sdk.audit.verify_certificate_audit``).

    Args:
        predicate: the verified certificate predicate.

    Returns:
        The predicate digest the audit event binds (hex SHA-256, see :func:`predicate_digest`).

    Raises:
        AuditLogError: the event is missing, of another type, carries no predicate digest, or names
            another one.
    """
    event = predicate.audit.event
    if event is None:
        raise AuditLogError("the certificate's audit section carries no event to bind it to")
    if event.get("type") != CERTIFICATE_EVENT:
        raise AuditLogError(
            f"the certificate's audit event is a {event.get('type')!r}, not {CERTIFICATE_EVENT!r}"
        )
    data = event.get("data")
    bound = data.get("predicate_sha256") if isinstance(data, dict) else None
    if bound is None:
        raise AuditLogError(
            "the certificate's audit event carries no predicate digest, so it does not name this certificate"
        )
    digest = predicate_digest(predicate)
    if bound != digest:
        raise AuditLogError(
            "the certificate's audit event names a different certificate (predicate digest differs)"
        )
    return digest


def check_artifact(verified: VerifiedCertificate, artifact: Path | str) -> str:
    """Check that the file ``artifact`` (the deployed weights) is the certificate's subject.

    Args:
        verified: a certificate verified by :func:`verify_certificate`.
        artifact: the weights file to check (read in chunks).

    Returns:
        The file's SHA-256 (hex), which is the subject's and the unlearned model's digest.

    Raises:
        InputError: the file cannot be read.
        VerificationError: the file's digest is not the certificate's subject.
    """
    path = Path(artifact)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as e:
        raise InputError(f"cannot read the artifact {path}: {e.strerror or e}") from e
    actual = digest.hexdigest()
    model = verified.predicate.unlearned_model
    subjects = {s.digest.get("sha256") for s in verified.statement.subject}
    if actual not in subjects or actual != verified.predicate.unlearned_model.digest:
        raise VerificationError(
            f"the artifact {path.name} (sha256 {actual[:16]}…) is not this certificate's subject "
            f"({model.version}, sha256 {model.digest[:16]}…)"
        )
    return actual


def check_job(verified: VerifiedCertificate, job_id: str) -> None:
    """Check that the certificate was issued for batch job ``job_id``.

    Raises:
        VerificationError: it names another job.
    """
    if verified.predicate.job_id != job_id:
        raise VerificationError(
            f"the certificate belongs to job {verified.predicate.job_id}, not to job {job_id}"
        )
