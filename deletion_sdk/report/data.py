"""What the privacy officer's report shows: frozen models the batch pipeline fills, one per section.

:class:`ReportData` is the whole input of :func:`~deletion_sdk.report.render_report`. People appear in it only
as subject references (64 hex digits, see :mod:`deletion_sdk.ledger.subjects`); :func:`check_no_personal_data`
walks every text field — including free-form attempt parameters and notes — and rejects anything that looks
like a raw identifier (an e-mail address, a phone number, a subject reference field holding something else,
or a parameter named like a personal field). Validation runs when the model is built and again before
rendering, and its errors name the field, never the value.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any, Literal

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from deletion_sdk.erasure.summary import ErasureInfo
from deletion_sdk.errors import InputError
from deletion_sdk.ledger.subjects import SUBJECT_REF_PATTERN
from deletion_sdk.policy.evaluate import Decision
from deletion_sdk.policy.schema import ProcessingRecord
from deletion_sdk.verification.report import VerificationReport

__all__ = [
    "AttemptInfo",
    "AuditInfo",
    "CertificateInfo",
    "ForgetSetInfo",
    "JobInfo",
    "ModelRef",
    "ModelsInfo",
    "Outcome",
    "ProcessingRecord",
    "ReportData",
    "RequestEvent",
    "RequestInfo",
    "ResultModelRef",
    "check_no_personal_data",
]

Outcome = Literal["passed", "failed", "inconclusive", "budget_exceeded", "error"]

# A raw identifier looks like one of these. Subject references, digests and ids never do.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_PHONE = re.compile(
    r"(?<![\w+])\+\d{1,3}[ \-]?\(?\d{1,4}\)?(?:[ \-]?\d{2,4}){2,}(?!\w)|\(\d{3}\)\s?\d{3}[ \-]\d{4}"
)
# Keys of free-form dicts (attempt parameters) named like a personal field (as deletion_sdk.logging drops).
_PERSONAL_KEY = re.compile(
    r"^(raw_)?(subject|subject_id|subjects|subject_ids|identifier|identifiers|email|e_mail|mail|"
    r"phone|name|full_name|first_name|last_name|user|user_id|username|person|person_id|ssn)$",
    re.IGNORECASE,
)


class _Frozen(BaseModel):
    # hide_input_in_errors: a validation error must never echo a raw identifier into a log.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class JobInfo(_Frozen):
    """The batch job the report is about.

    Attributes:
        job_id: the job's id in the ledger.
        model_name: the model the job made forget.
        policy_id: the policy it obeyed (e.g. ``gdpr-art17``).
        policy_title: the policy's human title.
        status: ``running``, ``completed`` or ``failed``.
        created_at: when the job was created.
        finished_at: when it finished (None while running).
        worker: the worker that ran it.
    """

    job_id: str
    model_name: str
    policy_id: str
    policy_title: str
    status: str
    created_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    worker: str | None = None


class RequestEvent(_Frozen):
    """One step of a request's history: a status change, or a deadline extension (same status twice).

    Attributes:
        at: when it happened.
        from_status: the status before (None: the request was received).
        to_status: the status after.
        actor: who did it (an operator, ``cli``, ``api``, the batch worker …), as recorded by the ledger.
        reason: the recorded reason (e.g. how the identity was verified); never personal data.
    """

    at: AwareDatetime
    from_status: str | None = None
    to_status: str
    actor: str
    reason: str | None = None


class RequestInfo(_Frozen):
    """One deletion request handled by the job.

    Attributes:
        request_id: the request's id in the ledger.
        subject_ref: the person's pseudonym (64 lowercase hex digits), never a raw identifier.
        policy_id: the request's policy.
        status: its lifecycle status (``completed``, ``failed``, ``no_data`` …).
        received_at: when it was received (the statutory clock starts here).
        due_at: the current due date, after any extension.
        completed_at: when it reached a final status (None: not yet).
        deadline_met: True / False once decided; None while open and not yet overdue.
        extensions: how many times the deadline was extended.
        history: the request's status changes, oldest first (who verified the identity, and when).
    """

    request_id: str
    subject_ref: str
    policy_id: str
    status: str
    received_at: AwareDatetime
    due_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    deadline_met: bool | None = None
    extensions: int = Field(default=0, ge=0)
    history: tuple[RequestEvent, ...] = ()

    @field_validator("subject_ref")
    @classmethod
    def _is_pseudonym(cls, value: str) -> str:
        if not SUBJECT_REF_PATTERN.match(value):
            raise ValueError(
                "must be a subject reference (64 lowercase hex digits); got a value that is not one "
                "(not shown, in case it is a raw identifier)"
            )
        return value


class ForgetSetInfo(_Frozen):
    """The forget set the job built.

    Attributes:
        count: training examples to forget.
        merkle_root: hex RFC 9162 root over the forget-set manifest's leaves.
        n_subjects: people whose examples were found.
        no_data_request_ids: requests whose person had no example in the training data.
    """

    count: int = Field(ge=0)
    merkle_root: str
    n_subjects: int = Field(ge=0)
    no_data_request_ids: tuple[str, ...] = ()


class ModelRef(_Frozen):
    """A model version: name, version number and weights digest (SHA-256 of the safetensors file)."""

    name: str
    version: int
    digest: str


class ResultModelRef(ModelRef):
    """The model version the job produced, with its registry status (``candidate``, ``deployed`` …)."""

    status: str


class ModelsInfo(_Frozen):
    """The model before (``original``) and the one produced (``result``; None when none was)."""

    original: ModelRef
    result: ResultModelRef | None = None


class AttemptInfo(_Frozen):
    """One unlearning attempt: a method run, verified and judged by the policy.

    Attributes:
        index: 1-based position in the job's escalation order.
        method: the unlearner's registered name (``retrain`` is exact retraining).
        method_version: the unlearner's version.
        params: the hyper-parameters it ran with (JSON-like values).
        wall_time_s: seconds it took.
        retrain_estimate_s: estimated seconds of a full retraining (None: fall back to the job's estimate).
        budget_s: the time the policy allowed this method (None: no limit, as for exact retraining).
        device: where it ran (``cpu``, ``cuda:0`` …).
        outcome: ``passed``, ``failed`` (verification did not pass), ``inconclusive`` (the checks could
            not tell the result from doing nothing), ``budget_exceeded`` or ``error``.
        decision: the policy's decision on it (None when it never reached verification).
        verification: the verification evidence (None when it never reached verification).
        note: a short plain-language note (e.g. why it errored); never personal data.
    """

    index: int = Field(ge=0)
    method: str
    method_version: str
    params: dict[str, Any] = Field(default_factory=dict)
    wall_time_s: float = Field(ge=0)
    retrain_estimate_s: float | None = Field(default=None, gt=0)
    budget_s: float | None = Field(default=None, gt=0)
    device: str
    outcome: Outcome
    decision: Decision | None = None
    verification: VerificationReport | None = None
    note: str | None = None


class CertificateInfo(_Frozen):
    """The signed certificate and how to check it.

    Attributes:
        path: the ``*.intoto.json`` file.
        key_id: SHA-256 of the signer's DER SubjectPublicKeyInfo (the key's fingerprint).
        payload_sha256: SHA-256 of the signed payload.
        public_key_path: the public key PEM a verifier needs.
        verify_command: the command a recipient runs beside the two files (built from the files' names,
            never the operator's folders, when left out).
    """

    path: str
    key_id: str
    payload_sha256: str
    public_key_path: str
    verify_command: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_command(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("verify_command"):
            path, key = data.get("path"), data.get("public_key_path")
            if isinstance(path, str) and isinstance(key, str):
                cert_name, key_name = PurePath(path).name, PurePath(key).name
                command = (
                    f"deletion-sdk certificate verify {shlex.quote(cert_name)} --key {shlex.quote(key_name)}"
                )
                data = {**data, "verify_command": command}
        return data


class AuditInfo(_Frozen):
    """The audit log as of the report.

    Attributes:
        tree_size: entries in the log.
        root_hash: hex RFC 9162 root over them.
        entry_index: the job's final entry (None: not known).
        verify_command: the command that re-checks the whole log.
    """

    tree_size: int = Field(ge=0)
    root_hash: str
    entry_index: int | None = Field(default=None, ge=0)
    verify_command: str = "deletion-sdk audit verify"


class ReportData(_Frozen):
    """Everything the privacy officer's report shows.

    Attributes:
        generated_at: when the report was produced.
        job: the job.
        requests: the deletion requests it handled.
        forget_set: the forget set it built.
        models: the model before and the model produced.
        attempts: every unlearning attempt, in order (the last is the final one).
        certificate: the signed certificate (None: none was issued).
        audit: the audit log's state (None: not available).
        retrain_estimate_s: estimated seconds of a full retraining of the model.
        processing_record: the GDPR Art. 30 record-of-processing fields from the job's policy (None: the
            policy sets none). They describe the organisation (its DPO's role address, say), not a person,
            so the raw-identifier check skips them.
    """

    generated_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    job: JobInfo
    requests: tuple[RequestInfo, ...]
    forget_set: ForgetSetInfo
    models: ModelsInfo
    attempts: tuple[AttemptInfo, ...] = ()
    certificate: CertificateInfo | None = None
    audit: AuditInfo | None = None
    retrain_estimate_s: float | None = Field(default=None, gt=0)
    processing_record: ProcessingRecord | None = None
    erasure: ErasureInfo | None = None  # what the job erased besides the weights (deletion_sdk.erasure)

    @model_validator(mode="after")
    def _nothing_personal(self) -> ReportData:
        check_no_personal_data(self)
        return self


def _texts(value: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """Yield (field path, text, is a free-form key) for every string reachable from ``value``."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, ProcessingRecord):
        return  # the organisation's own contacts, shown on purpose (see ReportData.processing_record)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _texts(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            label = "<key>" if _looks_personal(str(key)) else repr(key)
            if isinstance(key, str):
                yield f"{path}[{label}]", key, True
            yield from _texts(item, f"{path}[{label}]")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            yield from _texts(item, f"{path}[{i}]")
    elif isinstance(value, np.ndarray) and value.dtype.kind in "US":
        for i, item in enumerate(value.ravel().tolist()):
            yield f"{path}[{i}]", str(item), False


def _looks_personal(text: str) -> str | None:
    if _EMAIL.search(text):
        return "an e-mail address"
    if _PHONE.search(text):
        return "a phone number"
    return None


def check_no_personal_data(data: ReportData) -> None:
    """Raise when any text in ``data`` looks like a raw personal identifier.

    Checked: every string field at any depth (attempt parameters and notes, job and worker names, paths,
    check descriptions …) for e-mail addresses and phone numbers; keys of free-form parameter dicts for names
    of personal fields (``email``, ``subject``, ``name`` …); every request's ``subject_ref`` for the
    pseudonym form. The message names the field and what it looked like, never the value.

    Raises:
        InputError: something personal was found.
    """
    for request in data.requests:
        if not SUBJECT_REF_PATTERN.match(request.subject_ref):
            raise InputError(
                f"The 'subject_ref' field of request {request.request_id!r} must be a subject reference "
                "(64 lowercase hex digits). Got a value that is not one (not shown)."
            )
    for path, text, is_key in _texts(data, "report"):
        kind = _looks_personal(text)
        if kind is None and is_key and _PERSONAL_KEY.match(text):
            kind = "a key named like a personal field"
        if kind is not None:
            raise InputError(
                f"The report field '{path}' must not hold personal data; it holds {kind}. "
                "Reports name people only by subject reference (the value is not shown)."
            )
