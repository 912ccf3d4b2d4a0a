"""Audit-log tables (migration ``0002_audit``). Holds no personal data: events carry ids and subject refs.

audit_entries       one row per log entry: 0-based index, the RFC 8785 event text, its leaf hash
                    (SHA-256(0x00 || event)), and a running chain hash (SHA-256(previous chain || leaf))
audit_checkpoints   every signed tree head (C2SP signed note), one per tree size
audit_head          a single row: the log size and last chain hash; appenders lock it to serialise
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from deletion_sdk.ledger._types import UTCDateTime

__all__ = ["AuditCheckpointRow", "AuditEntryRow", "AuditHeadRow"]


class AuditEntryRow(SQLModel, table=True):
    __tablename__ = "audit_entries"

    entry_index: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    event: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    leaf_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    chain_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class AuditCheckpointRow(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    tree_size: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    root_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    note: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    key_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class AuditHeadRow(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    chain_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
