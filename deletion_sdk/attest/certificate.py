"""Unlearning certificates: an in-toto Statement v1 in a DSSE envelope, signed with Ed25519.

The statement's subject is the unlearned model (name, ``sha256`` of its weights file) and its predicate
(:class:`CertificatePredicate`, type ``https://deletion-sdk.dev/unlearning-certificate/v1``) records what
was forgotten, for whom (subject references only, never raw identifiers), under which policy, how it was
done and checked, and where in the audit log the issuance was recorded (with an inclusion proof and a
signed checkpoint). The payload is the RFC 8785 canonical JSON of the statement, wrapped as
``application/vnd.in-toto+json``; the file is ``<job>.intoto.json``.

Digest fields accept ``<hex>`` or ``sha256:<hex>`` and are stored as bare lowercase hex.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from deletion_sdk._fs import atomic_write
from deletion_sdk.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope, sign_envelope
from deletion_sdk.attest.jcs import canonical_json
from deletion_sdk.attest.keys import Signer
from deletion_sdk.attest.statement import ResourceDescriptor, Statement
from deletion_sdk.errors import InputError

__all__ = [
    "CERTIFICATE_SUFFIX",
    "PREDICATE_TYPE",
    "AttemptRecord",
    "AuditRecord",
    "CertificatePredicate",
    "DecisionRecord",
    "ErasedArtifactRecord",
    "ForgetSetRef",
    "ModelRef",
    "ObligationRecord",
    "PolicyRef",
    "RequestRecord",
    "UnlearnerRecord",
    "VerificationSummary",
    "build_statement",
    "certificate_path",
    "sign_certificate",
    "write_certificate",
]

PREDICATE_TYPE = "https://deletion-sdk.dev/unlearning-certificate/v1"
CERTIFICATE_SUFFIX = ".intoto.json"
_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
_SUBJECT_REF = re.compile(r"^[0-9a-f]{64}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# hide_input_in_errors: a raw identifier passed by mistake must not end up in an error message or log
_FROZEN = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def _sha256_hex(value: str) -> str:
    match = _SHA256.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("must be a SHA-256 digest: 64 hex digits, optionally prefixed 'sha256:'")
    return match.group(1).lower()


Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]


class RequestRecord(BaseModel):
    """One deletion request served by the unlearned model."""

    model_config = _FROZEN

    request_id: str = Field(min_length=1)
    subject_ref: str
    received_at: AwareDatetime
    due_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    policy_id: str = Field(min_length=1)

    @field_validator("subject_ref")
    @classmethod
    def _pseudonym_only(cls, value: str) -> str:
        if not _SUBJECT_REF.match(value):
            # never echo the value: it may be a raw identifier passed by mistake
            raise ValueError("must be a subject reference (64 lowercase hex digits), not a raw identifier")
        return value


class PolicyRef(BaseModel):
    """The policy applied and the digest of its document."""

    model_config = _FROZEN

    id: str = Field(min_length=1)
    digest: Sha256Hex


class ForgetSetRef(BaseModel):
    """Size and RFC 9162 Merkle root of the forget-set manifest."""

    model_config = _FROZEN

    size: int = Field(ge=0)
    merkle_root: Sha256Hex


class ModelRef(BaseModel):
    """A model version and the SHA-256 of its weights file."""

    model_config = _FROZEN

    digest: Sha256Hex
    version: str = Field(min_length=1)


class UnlearnerRecord(BaseModel):
    """Which method ran (and which code that was), with which parameters, for how long, where.

    ``class_path``, ``source`` (``builtin``, ``plugin:<distribution>==<version>`` or a module) and
    ``code_sha256`` (of the file defining the class) identify the code: a name alone proves nothing.
    """

    model_config = _FROZEN

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    wall_time_s: float = Field(ge=0)
    device: str = Field(min_length=1)
    class_path: str | None = None
    source: str | None = None
    code_sha256: Sha256Hex | None = None


class AttemptRecord(BaseModel):
    """One method the job tried before (or as) the certified one, and how it ended."""

    model_config = _FROZEN

    method: str = Field(min_length=1)
    outcome: str = Field(min_length=1)
    summary: str = ""


class VerificationSummary(BaseModel):
    """Key figures of the verification report (filled from ``VerificationReport``) and its tier."""

    model_config = _FROZEN

    tier: str = Field(min_length=1)
    figures: dict[str, JsonValue] = Field(default_factory=dict)
    report_digest: Sha256Hex | None = None


class DecisionRecord(BaseModel):
    """The policy decision: passed only when every check passed."""

    model_config = _FROZEN

    passed: bool
    basis: str | None = None
    checks: tuple[dict[str, JsonValue], ...] = ()


class AuditRecord(BaseModel):
    """Where the certificate's issuance sits in the audit log, with the proof that it is there.

    ``leaf_hash`` = SHA-256(0x00 || RFC 8785 bytes of ``event``); ``inclusion_proof`` leads from it to
    ``root_hash`` at ``tree_size``; ``checkpoint`` is the C2SP signed note of that tree head.
    """

    model_config = _FROZEN

    tree_size: int = Field(ge=1)
    root_hash: Sha256Hex
    entry_index: int = Field(ge=0)
    leaf_hash: Sha256Hex
    inclusion_proof: tuple[Sha256Hex, ...] = ()
    checkpoint: str = Field(min_length=1)
    event: dict[str, JsonValue] | None = None


class ErasedArtifactRecord(BaseModel):
    """One artifact that held the forgotten people's data and was erased (kind, SHA-256, when)."""

    model_config = _FROZEN

    kind: str = Field(min_length=1, max_length=32)
    digest: Sha256Hex
    erased_at: AwareDatetime
    detail: str | None = Field(default=None, max_length=200)


class ObligationRecord(BaseModel):
    """Something the erasure still owes, in plain words, and by when (a grace period's end)."""

    model_config = _FROZEN

    kind: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=300)
    due_at: AwareDatetime | None = None
    digest: Sha256Hex | None = None


# Fields added after v0.1: left out of the serialised predicate when unset, so a certificate issued before
# they existed re-serialises to the bytes (and predicate digest) it was signed and logged with.
_OPTIONAL_SINCE_V02 = ("erased_artifacts", "remaining_obligations")


class CertificatePredicate(BaseModel):
    """The predicate of an unlearning certificate (type :data:`PREDICATE_TYPE`).

    ``erased_artifacts`` lists every artifact the job erased (source files, retired weights, shadow banks,
    caches); ``remaining_obligations`` what is still owed and by when (a grace period's end).
    """

    model_config = _FROZEN

    job_id: str = Field(min_length=1)
    requests: tuple[RequestRecord, ...] = Field(min_length=1)
    policy: PolicyRef
    forget_set: ForgetSetRef
    original_model: ModelRef
    unlearned_model: ModelRef
    unlearner: UnlearnerRecord
    attempts: tuple[AttemptRecord, ...] = ()
    verification: VerificationSummary
    decision: DecisionRecord
    qualification_report_digest: Sha256Hex | None = None
    audit: AuditRecord
    issued_at: AwareDatetime
    sdk_version: str = Field(min_length=1)
    signer_key_id: Sha256Hex
    erased_artifacts: tuple[ErasedArtifactRecord, ...] | None = None
    remaining_obligations: tuple[ObligationRecord, ...] | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_optional(self, handler: SerializerFunctionWrapHandler) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = handler(self)
        for key in _OPTIONAL_SINCE_V02:
            if key in data and data[key] is None:
                del data[key]
        return data


def build_statement(predicate: CertificatePredicate, *, subject_name: str | None = None) -> Statement:
    """The in-toto statement whose subject is the unlearned model.

    Args:
        predicate: the certificate content.
        subject_name: the subject's name; defaults to the unlearned model's version.
    """
    if not isinstance(predicate, CertificatePredicate):
        raise InputError(
            f"The 'predicate' parameter must be a CertificatePredicate. Got {type(predicate).__name__}."
        )
    name = subject_name or predicate.unlearned_model.version
    return Statement(
        subject=(ResourceDescriptor(name=name, digest={"sha256": predicate.unlearned_model.digest}),),
        predicateType=PREDICATE_TYPE,
        predicate=predicate.model_dump(mode="json"),
    )


def sign_certificate(
    predicate: CertificatePredicate, *, signer: Signer, subject_name: str | None = None
) -> Envelope:
    """Sign the certificate: RFC 8785 bytes of the statement in a DSSE envelope.

    Raises:
        InputError: ``predicate.signer_key_id`` is not the key id of ``signer``.
    """
    if predicate.signer_key_id != signer.key_id:
        raise InputError(
            "The 'predicate.signer_key_id' field must be the key id of the signer "
            f"({signer.key_id}). Got {predicate.signer_key_id} instead."
        )
    statement = build_statement(predicate, subject_name=subject_name)
    return sign_envelope(
        canonical_json(statement.to_json_obj()), payload_type=INTOTO_PAYLOAD_TYPE, signer=signer
    )


def certificate_path(directory: Path | str, job_id: str) -> Path:
    """``directory/<job_id>.intoto.json``.

    Raises:
        InputError: ``job_id`` is not a safe file name stem.
    """
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise InputError(
            "The 'job_id' parameter must be 1-128 characters of letters, digits, '.', '_' or '-' "
            f"starting with a letter or digit. Got {job_id!r} instead."
        )
    return Path(directory) / f"{job_id}{CERTIFICATE_SUFFIX}"


def write_certificate(envelope: Envelope, path: Path | str) -> Path:
    """Write ``envelope`` as JSON to ``path`` atomically (temporary file, fsync, rename).

    Returns:
        ``path``.
    """
    path = Path(path)
    if not path.name.endswith(CERTIFICATE_SUFFIX):
        raise InputError(
            f"The 'path' parameter must name a '*{CERTIFICATE_SUFFIX}' file. Got {path.name!r} instead."
        )
    return atomic_write(path, envelope.to_json() + "\n")
