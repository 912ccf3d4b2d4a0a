"""Erasure tables (migration ``0004_erasure``).

    tombstones          one row per erased example: (dataset, example id) -> content digest, erased-at, job;
                        registration refuses these example ids and any file with one of these digests
    erased_artifacts    one row per artifact erased (kind, SHA-256, time, non-identifying detail, job);
                        (kind, digest) is unique, so a resumed erasure never records an artifact twice
    model_retirements   a retired model version: when, by which job, when its weights are (or were) deleted

The ``datasets.store`` column and the ``retired`` model status are altered in by the same revision.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from deletion_sdk.ledger._types import UTCDateTime

__all__ = ["ErasedArtifactRow", "ModelRetirement", "Tombstone"]


class Tombstone(SQLModel, table=True):
    __tablename__ = "tombstones"
    __table_args__ = (
        sa.Index("ix_tombstones_content_digest", "content_digest"),
        sa.Index("ix_tombstones_example_id", "example_id"),
    )

    dataset_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    )
    example_id: str = Field(sa_column=sa.Column(sa.String, primary_key=True))
    content_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    erased_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    job_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True))


class ErasedArtifactRow(SQLModel, table=True):
    __tablename__ = "erased_artifacts"
    __table_args__ = (
        sa.UniqueConstraint("kind", "digest"),
        sa.Index("ix_erased_artifacts_job_id", "job_id"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    )
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    erased_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    detail: str | None = Field(default=None, sa_column=sa.Column(sa.String(200), nullable=True))
    job_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True))


class ModelRetirement(SQLModel, table=True):
    __tablename__ = "model_retirements"

    model_version_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("model_versions.id"), primary_key=True)
    )
    job_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(36), nullable=True))
    retired_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    erase_weights_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    weights_erased_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
