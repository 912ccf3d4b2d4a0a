"""Crypto-shredding tables (migration ``0008_crypto``).

subject_data_keys   one wrapped 256-bit data key per subject reference (AES-GCM under the master key, whose
                    fingerprint is recorded); deleting the row is what destroys the key
shredded_keys       tombstones of destroyed keys: subject reference, key digest, when (never the key)
sealed_examples     the encrypted copies under ``HOME/vault/``: file name, owner, example id, content digest,
                    the key digest it was sealed under and the SHA-256 of the sealed bytes
ingested_datasets   which datasets were copied into the vault, when, and how many examples were sealed
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from deletion_sdk.ledger._types import UTCDateTime

__all__ = ["IngestedDatasetRow", "SealedExampleRow", "ShreddedKeyRow", "SubjectDataKeyRow"]


class SubjectDataKeyRow(SQLModel, table=True):
    __tablename__ = "subject_data_keys"

    subject_ref: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("subjects.subject_ref"), primary_key=True)
    )
    wrapped_key: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    key_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    master_key_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class ShreddedKeyRow(SQLModel, table=True):
    __tablename__ = "shredded_keys"

    subject_ref: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("subjects.subject_ref"), primary_key=True)
    )
    key_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    destroyed_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class SealedExampleRow(SQLModel, table=True):
    __tablename__ = "sealed_examples"

    file_name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    subject_ref: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("subjects.subject_ref"), nullable=False, index=True)
    )
    example_id: str = Field(sa_column=sa.Column(sa.String, nullable=False))
    content_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, index=True))
    key_digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    sealed_sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class IngestedDatasetRow(SQLModel, table=True):
    __tablename__ = "ingested_datasets"

    dataset_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    )
    n_sealed: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    n_skipped: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    master_key_id: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    ingested_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
