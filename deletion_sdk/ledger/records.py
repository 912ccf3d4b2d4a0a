"""Frozen result models the ledger returns (never ORM rows: those stay inside a session)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "DatasetRecord",
    "ForgetSetManifest",
    "HistoryEntry",
    "ImportReport",
    "ImportRowError",
    "ModelVersionRecord",
    "RequestRecord",
    "SubmitResult",
    "SuppressionRecord",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestRecord(_Frozen):
    """One deletion request as stored (the person appears only as ``subject_ref``)."""

    request_id: str
    subject_ref: str
    policy: str = Field(description="Policy id, e.g. gdpr-art17.")
    policy_digest: str = Field(description="SHA-256 of the policy file the deadline was computed from.")
    status: str
    received_at: AwareDatetime
    due_at: AwareDatetime = Field(description="Current due date (after any extension).")
    extensions: int = 0
    extended_at: AwareDatetime | None = None
    extension_reason: str | None = None
    idempotency_key: str | None = None
    completed_at: AwareDatetime | None = Field(default=None, description="When it reached a final status.")
    outcome_reason: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @property
    def is_open(self) -> bool:
        from deletion_sdk.ledger.statuses import TERMINAL_STATUSES, RequestStatus

        return RequestStatus(self.status) not in TERMINAL_STATUSES


class SubmitResult(_Frozen):
    """What :func:`~deletion_sdk.ledger.requests.submit` did.

    ``created`` is True only when this call recorded a new request. Otherwise ``request`` is the existing
    request with the same idempotency key, or (``duplicate_of_open``) the open request of the same subject
    under the same policy.
    """

    request: RequestRecord
    created: bool
    duplicate_of_open: bool = False


class HistoryEntry(_Frozen):
    """One status change (or deadline extension, where ``from_status == to_status``)."""

    request_id: str
    from_status: str | None
    to_status: str
    at: AwareDatetime
    actor: str
    reason: str | None = None


class ImportRowError(_Frozen):
    """A rejected row of an import file."""

    line: int = Field(description="1-based line number in the file (the header is line 1 for CSV).")
    reason: str


class ImportReport(_Frozen):
    """Outcome of a batch import. Good rows landed; bad rows are listed and nothing was recorded for them."""

    path: str
    rows: int = Field(description="Data rows read (good and bad).")
    created: int = Field(description="New requests recorded.")
    existing: int = Field(description="Rows whose idempotency key was already recorded (same request).")
    duplicate_of_open: int = Field(description="Rows for a subject+policy that already had an open request.")
    request_ids: tuple[str, ...] = Field(description="Request id of every good row, in file order.")
    errors: tuple[ImportRowError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class DatasetRecord(_Frozen):
    """A registered dataset snapshot."""

    dataset_id: int
    name: str
    root_dir: str | None
    manifest_digest: str | None = Field(description="SHA-256 of the manifest file's bytes (None: in memory).")
    examples_root: str = Field(description="RFC 9162 Merkle root over the examples' leaves (see lineage).")
    n_examples: int
    splits: dict[str, int] = Field(default_factory=dict, description="Examples per split.")
    n_subjects: int = 0
    created_at: AwareDatetime
    store: str = Field(default="local", description="The source store holding the example files.")


class SuppressionRecord(_Frozen):
    """A subject whose data must never be ingested again."""

    subject_ref: str
    request_id: str | None
    suppressed_at: AwareDatetime
    reason: str


class ForgetSetManifest(_Frozen):
    """The training examples to forget, bound together by a Merkle root.

    Leaf encoding (``leaf_encoding``): for each example, the UTF-8 bytes of the RFC 8785 canonical JSON
    array ``[example_id, content_digest]`` (for ids without control characters: ``["ex-1","ab12…"]``);
    leaves ordered by ``example_id`` (code-point order), then RFC 9162 tree hashing
    (``deletion_sdk.merkle``). An empty forget set has the RFC 9162 empty root ``SHA-256("")``.
    """

    dataset_id: int | None = Field(description="Scope: only examples of this dataset (None: all datasets).")
    split: str | None = Field(default=None, description="Scope: only this split (None: every split).")
    request_ids: tuple[str, ...] = Field(
        description="Requests resolved (sorted); empty when by subject_refs."
    )
    subject_refs: tuple[str, ...] = Field(description="Subjects resolved (sorted).")
    example_ids: tuple[str, ...] = Field(description="Sorted example ids.")
    content_digests: tuple[str, ...] = Field(description="SHA-256 of each example's bytes, aligned with ids.")
    count: int
    merkle_root: str = Field(description="Hex RFC 9162 root over the leaves.")
    leaf_encoding: str = "rfc8785-json-array[example_id,content_digest]/v1"
    examples_per_request: dict[str, int] = Field(default_factory=dict)
    no_data_request_ids: tuple[str, ...] = Field(description="Requests with no example in scope (sorted).")
    no_data_subject_refs: tuple[str, ...] = Field(description="Subjects with no example in scope (sorted).")


class ModelVersionRecord(_Frozen):
    """A registered model version."""

    model_version_id: int
    name: str
    version: int
    weights_digest: str
    path: str | None
    architecture: str
    dataset_id: int | None
    training_root: str | None
    parent_id: int | None
    status: str
    metrics: dict[str, Any]
    created_at: AwareDatetime
