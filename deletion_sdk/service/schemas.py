"""The HTTP API's request and response bodies (they are its OpenAPI schemas).

Responses never carry a raw identifier, a subject reference, or a stored idempotency key: an intake client
learns the request id, its status, dates and history, nothing it could link to other people's requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from deletion_sdk.ledger.records import HistoryEntry, RequestRecord
from deletion_sdk.ledger.statuses import RequestStatus

__all__ = [
    "CheckpointView",
    "ErrorBody",
    "HistoryItem",
    "JobList",
    "JobView",
    "ProofView",
    "ReasonBody",
    "RequestDetail",
    "RequestList",
    "RequestView",
    "RequiredReasonBody",
    "SubmitBody",
    "SubmitResponse",
    "error_responses",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SubmitBody(_In):
    """A deletion request as an intake channel received it."""

    subject: str = Field(
        min_length=1,
        max_length=512,
        description="The person's identifier (e-mail, account id …). Only its keyed hash is kept; the raw "
        "value is never stored, logged or returned.",
    )
    policy: str = Field(min_length=1, max_length=64, description="Policy id, e.g. gdpr-art17 or ccpa.")
    received_at: datetime | None = Field(
        default=None, description="When the request was received (ISO 8601; default now). Not in the future."
    )
    verified: bool = Field(
        default=False, description="The intake channel already verified the requester's identity."
    )


class ReasonBody(_In):
    """An optional reason, kept in the request's history."""

    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class RequiredReasonBody(_In):
    """A reason, kept in the request's history (for a denial: what the person is told)."""

    reason: str = Field(min_length=1, max_length=2000)


class RequestView(_Out):
    """A deletion request's status and deadline."""

    request_id: str
    policy: str
    policy_digest: str
    status: RequestStatus
    received_at: AwareDatetime
    due_at: AwareDatetime
    extensions: int
    extended_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    outcome_reason: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, record: RequestRecord) -> RequestView:
        return cls(
            request_id=record.request_id,
            policy=record.policy,
            policy_digest=record.policy_digest,
            status=RequestStatus(record.status),
            received_at=record.received_at,
            due_at=record.due_at,
            extensions=record.extensions,
            extended_at=record.extended_at,
            completed_at=record.completed_at,
            outcome_reason=record.outcome_reason,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class SubmitResponse(_Out):
    """The recorded request; ``created`` is False when the key (or an open request) already existed."""

    request: RequestView
    created: bool
    duplicate_of_open: bool


class HistoryItem(_Out):
    """One status change or deadline extension (``from_status == to_status``)."""

    from_status: RequestStatus | None
    to_status: RequestStatus
    at: AwareDatetime
    actor: str
    reason: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryItem:
        return cls(
            from_status=None if entry.from_status is None else RequestStatus(entry.from_status),
            to_status=RequestStatus(entry.to_status),
            at=entry.at,
            actor=entry.actor,
            reason=entry.reason,
        )


class RequestDetail(_Out):
    """A request with its history, oldest change first."""

    request: RequestView
    history: list[HistoryItem]


class RequestList(_Out):
    items: list[RequestView]


class JobView(_Out):
    """A batch deletion job."""

    job_id: str
    model_name: str
    policy_id: str
    status: Literal["running", "completed", "failed"]
    step: str
    attempt: int
    error: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    finished_at: AwareDatetime | None
    has_certificate: bool


class JobList(_Out):
    items: list[JobView]


class EnvelopeSignatureView(_Out):
    keyid: str
    sig: str


class EnvelopeView(_Out):
    """A DSSE envelope (the certificate file's content); ``deletion-sdk certificate verify`` checks it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    payload_type: str = Field(alias="payloadType")
    payload: str
    signatures: list[EnvelopeSignatureView]


class CheckpointView(_Out):
    """The latest signed tree head of the audit log (a C2SP signed note)."""

    tree_size: int
    root_hash: str
    key_id: str
    note: str
    created_at: AwareDatetime


class ProofView(_Out):
    """An RFC 9162 inclusion proof of one audit entry."""

    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]
    checkpoint: str | None = Field(description="The signed note of this tree head, when one is stored.")
    event: dict[str, Any] | None


class ErrorDetail(_Out):
    type: str
    message: str


class ErrorBody(_Out):
    """Every error answer: the error's kind and one line saying what was wrong."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad input: the message names the field and what it must be.",
    401: "No API token, or an unknown, malformed or revoked one.",
    403: "The token's scope does not allow this operation.",
    404: "No such object.",
    409: "The request's current state forbids this (e.g. an illegal status change, or an idempotency key "
    "already used for another subject or policy).",
    413: "The request body is larger than the server's limit.",
    422: "The body or a parameter does not match the schema.",
    429: "The token is over its rate limit; retry after Retry-After seconds.",
    500: "The server could not complete the operation (e.g. the audit log failed its own check).",
    503: "Not ready.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with the :class:`ErrorBody` schema."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


class Health(_Out):
    status: Literal["ok"]


class Readiness(_Out):
    status: Literal["ready", "not_ready"]
    database: str
    revision: str | None
    head: str | None


class WebhookBody(_In):
    """A webhook receiver to register."""

    url: str = Field(
        min_length=8, max_length=2048, description="http:// or https:// URL that receives POSTs."
    )
    events: list[str] | None = Field(
        default=None,
        description="Event types to send: request.received, request.status_changed, request.extended "
        "(default: all).",
    )


class EndpointView(_Out):
    endpoint_id: str
    url: str
    events: list[str]
    created_at: AwareDatetime
    disabled_at: AwareDatetime | None


class NewEndpointView(_Out):
    """The new endpoint and its signing secret: store the secret now, it is not shown again."""

    endpoint: EndpointView
    secret: str


class EndpointList(_Out):
    items: list[EndpointView]


class DeliveryView(_Out):
    delivery_id: int
    event_id: str
    endpoint_id: str
    event_type: str
    status: Literal["pending", "delivered"]
    attempts: int
    next_attempt_at: AwareDatetime
    last_error: str | None


class DeadLetterView(_Out):
    dead_letter_id: int
    delivery_id: int
    event_id: str
    endpoint_id: str
    event_type: str
    payload: str
    attempts: int
    last_error: str | None
    failed_at: AwareDatetime


class DeadLetterList(_Out):
    items: list[DeadLetterView]
