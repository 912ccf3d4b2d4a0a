"""The ledger's core tables (migration ``0001_initial``).

A person appears only as a ``subject_ref`` (HMAC-SHA256 hex, see :mod:`deletion_sdk.ledger.subjects`).
Every timestamp is a :class:`~deletion_sdk.ledger._types.UTCDateTime`.

    subjects            one row per subject reference ever seen
    datasets            a registered dataset snapshot (manifest digest, Merkle root of its examples)
    examples            (dataset_id, example_id) -> subject_ref, content digest, path, age, split
    suppressions        erased subjects whose data must never be ingested again (tombstones)
    model_versions      weights digest, architecture, training data, parent; one ``deployed`` per name
    deletion_requests   one person, one policy, one received-at; one OPEN request per (subject, policy)
    request_history     every status change (and extension) with time, actor and reason
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from deletion_sdk.ledger._types import UTCDateTime
from deletion_sdk.ledger.statuses import OPEN_REQUEST_SQL, ModelStatus, RequestStatus

__all__ = [
    "Dataset",
    "DeletionRequest",
    "Example",
    "ModelVersion",
    "RequestHistory",
    "Subject",
    "Suppression",
]


def _in_list(values: type[RequestStatus] | type[ModelStatus]) -> str:
    return ", ".join(f"'{v.value}'" for v in sorted(values, key=lambda s: s.value))


class Subject(SQLModel, table=True):
    __tablename__ = "subjects"

    subject_ref: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    first_seen_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class Dataset(SQLModel, table=True):
    __tablename__ = "datasets"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String, nullable=False, unique=True))
    root_dir: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    manifest_digest: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    examples_root: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    n_examples: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    # the source store holding the example files (0004_erasure; see deletion_sdk.erasure.store)
    store: str = Field(
        default="local", sa_column=sa.Column(sa.String(64), nullable=False, server_default="local")
    )


class Example(SQLModel, table=True):
    __tablename__ = "examples"
    # (subject_ref, dataset_id): forget-set resolution filters on both; a subject_ref-only index loses to the
    # primary key's dataset_id prefix in SQLite's planner and turns every lookup into a dataset scan.
    __table_args__ = (sa.Index("ix_examples_subject_ref_dataset_id", "subject_ref", "dataset_id"),)

    dataset_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    )
    example_id: str = Field(sa_column=sa.Column(sa.String, primary_key=True))
    subject_ref: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("subjects.subject_ref"), nullable=False)
    )
    content_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    path: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    age: float = Field(sa_column=sa.Column(sa.Float, nullable=False))
    split: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))


class Suppression(SQLModel, table=True):
    __tablename__ = "suppressions"

    subject_ref: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("subjects.subject_ref"), primary_key=True)
    )
    request_id: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(36), sa.ForeignKey("deletion_requests.id"), nullable=True)
    )
    suppressed_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    reason: str = Field(sa_column=sa.Column(sa.String, nullable=False))


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_versions"
    __table_args__ = (
        sa.UniqueConstraint("name", "version"),
        sa.CheckConstraint(f"status IN ({_in_list(ModelStatus)})", name="status"),
        sa.Index(
            "uq_model_versions_one_deployed",
            "name",
            unique=True,
            sqlite_where=sa.text("status = 'deployed'"),
            postgresql_where=sa.text("status = 'deployed'"),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    weights_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    path: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    architecture: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    dataset_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("datasets.id"), nullable=True)
    )
    training_root: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    parent_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, sa.ForeignKey("model_versions.id"), nullable=True)
    )
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class DeletionRequest(SQLModel, table=True):
    __tablename__ = "deletion_requests"
    __table_args__ = (
        sa.CheckConstraint(f"status IN ({_in_list(RequestStatus)})", name="status"),
        sa.Index("ix_deletion_requests_status_due_at", "status", "due_at"),
        sa.Index(
            "uq_deletion_requests_open_subject_policy",
            "subject_ref",
            "policy_id",
            unique=True,
            sqlite_where=sa.text(OPEN_REQUEST_SQL),
            postgresql_where=sa.text(OPEN_REQUEST_SQL),
        ),
    )

    id: str = Field(sa_column=sa.Column(sa.String(36), primary_key=True))
    subject_ref: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("subjects.subject_ref"), nullable=False, index=True)
    )
    policy_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    policy_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    received_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    extensions: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    extended_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))
    extension_reason: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(200), nullable=True, unique=True)
    )
    completed_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))
    outcome_reason: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class RequestHistory(SQLModel, table=True):
    __tablename__ = "request_history"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    )
    request_id: str = Field(
        sa_column=sa.Column(
            sa.String(36),
            sa.ForeignKey("deletion_requests.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    from_status: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    to_status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    actor: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
