"""Records of erasure: what was erased, and what a source store is asked to erase.

An :class:`ErasedArtifact` is the evidence of one deletion (a source file, a person's data key, a model
version's weights, a shadow bank, a cache, a job snapshot). It names the artifact by its kind and a SHA-256
digest, never by a raw identifier or by a path that could contain one, so it may go into the audit log, a
certificate and a report as it is.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ArtifactKind", "ErasedArtifact", "Obligation", "StoredExample"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactKind(StrEnum):
    """What kind of artifact held the erased data."""

    SOURCE_FILE = "source_file"  # a person's example file in a dataset store
    SOURCE_KEY = "source_key"  # a person's data key in an encrypted store (crypto-shredding)
    MODEL_WEIGHTS = "model_weights"  # a retired model version's weights file
    SHADOW_BANK = "shadow_bank"  # the reference models of a model version trained with the person
    QUALIFICATION_CACHE = "qualification_cache"  # cached qualification models built from the person's data
    JOB_SNAPSHOT = "job_snapshot"  # a batch job's candidate weights and forget-set files
    TENSOR_CACHE = "tensor_cache"  # decoded-image tensors (HOME/cache) holding the person's images
    EXPORT = "export"  # a file exported from the SDK that held the person's data


class ErasedArtifact(BaseModel):
    """One artifact that held an erased person's data, and when it was erased.

    Attributes:
        kind: what the artifact was.
        digest: SHA-256 hex naming the artifact (a file's content digest, a weights digest, the digest a
            directory is keyed by); never a raw identifier.
        erased_at: when it was deleted (UTC).
        detail: optional non-identifying words ("model face-age v1"); never a path or an id.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ArtifactKind
    digest: str = Field(min_length=64, max_length=64)
    erased_at: datetime
    detail: str | None = Field(default=None, max_length=200)

    @field_validator("digest")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.lower()
        if not _HEX64.match(value):
            raise ValueError(f"digest must be 64 lowercase hex characters; got {value!r}")
        return value

    @field_validator("erased_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("erased_at must be timezone-aware (UTC)")
        return value

    @field_validator("detail")
    @classmethod
    def _no_path(cls, value: str | None) -> str | None:
        if value is not None and ("/" in value or "\\" in value):
            raise ValueError("detail must be plain words, never a path")
        return value


class StoredExample(BaseModel):
    """One example a source store holds: the ledger's view of it, handed to the store to open or erase.

    Attributes:
        example_id: the example's id in its dataset.
        subject_ref: whose example it is (HMAC reference; an encrypted store keys its data keys by it).
        content_digest: SHA-256 of the example's bytes as registered.
        path: where the store keeps it, relative to the dataset's root (absolute when registered so);
            None for in-memory examples that have no file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    example_id: str
    subject_ref: str = Field(min_length=64, max_length=64)
    content_digest: str = Field(min_length=64, max_length=64)
    path: str | None = None


class Obligation(BaseModel):
    """Something an erasure still owes, in plain words, and by when.

    Attributes:
        kind: ``retired_weights`` (kept for the policy's grace period) or ``source_files`` (kept while another
            deployed model still needs them to forget the people).
        description: plain words for a privacy officer; never an identifier or a path.
        due_at: when it must be done (None: when the blocking model is unlearned).
        digest: the artifact's SHA-256 when there is one (retired weights).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    description: str = Field(min_length=1, max_length=300)
    due_at: datetime | None = None
    digest: str | None = None
