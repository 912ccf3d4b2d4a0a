"""Batch-job tables (migration ``0003_jobs``).

jobs            one batch deletion job: model, policy, current step, attempt (index into the policy's
                methods), the worker holding it and its lease, and the JSON outputs of finished steps
job_requests    which requests a job claimed
certificates    one signed certificate per completed job: file path, payload digest, signer, audit entry
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from deletion_sdk.ledger._types import UTCDateTime

__all__ = ["CertificateRow", "JobRequestRow", "JobRow"]

JOB_STATUSES = ("completed", "failed", "running")


class JobRow(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.CheckConstraint("status IN ('completed', 'failed', 'running')", name="status"),
        sa.Index("ix_jobs_model_name_status", "model_name", "status"),
    )

    id: str = Field(sa_column=sa.Column(sa.String(36), primary_key=True))
    model_name: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    policy_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    step: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    attempt: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    worker: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    lease_expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    state: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))


class JobRequestRow(SQLModel, table=True):
    __tablename__ = "job_requests"

    job_id: str = Field(
        sa_column=sa.Column(sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    )
    request_id: str = Field(
        sa_column=sa.Column(
            sa.String(36), sa.ForeignKey("deletion_requests.id"), primary_key=True, index=True
        )
    )


class CertificateRow(SQLModel, table=True):
    __tablename__ = "certificates"

    job_id: str = Field(sa_column=sa.Column(sa.String(36), sa.ForeignKey("jobs.id"), primary_key=True))
    model_version_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False)
    )
    path: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    payload_sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    key_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    audit_index: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    issued_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
