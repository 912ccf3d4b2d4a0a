"""Tables of the HTTP intake service (migration ``0006_service``). No personal data: ids, digests, URLs.

api_tokens              one bearer token: its public id, a scope (intake, officer, admin), a name, the
                        SHA-256 of its secret part (the secret itself is shown once and never stored)
webhook_endpoints       a receiver URL, the event types it wants, and the salt its signing secret is
                        derived from (HMAC of the deployment's subject key; the secret is never stored)
webhook_deliveries      the outbox: one row per (event, endpoint), written in the same transaction as the
                        request change it announces; a worker posts it, retrying with exponential backoff
webhook_dead_letters    deliveries that failed every attempt (moved here, with the last error); an admin
                        re-queues them once the receiver is fixed
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from deletion_sdk.ledger._types import UTCDateTime

__all__ = [
    "DELIVERY_STATUSES",
    "TOKEN_SCOPES",
    "ApiTokenRow",
    "WebhookDeadLetterRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
]

TOKEN_SCOPES = ("admin", "intake", "officer")
DELIVERY_STATUSES = ("delivered", "pending")


class ApiTokenRow(SQLModel, table=True):
    __tablename__ = "api_tokens"
    __table_args__ = (sa.CheckConstraint("scope IN ('admin', 'intake', 'officer')", name="scope"),)

    id: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    scope: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    secret_sha256: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))


class WebhookEndpointRow(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    events: str = Field(sa_column=sa.Column(sa.String, nullable=False))  # comma-separated, or "*"
    secret_salt: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))


class WebhookDeliveryRow(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint("status IN ('delivered', 'pending')", name="status"),
        sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    )
    event_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))
    endpoint_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # the exact JSON bytes signed
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    locked_until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=True))


class WebhookDeadLetterRow(SQLModel, table=True):
    __tablename__ = "webhook_dead_letters"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    )
    delivery_id: int = Field(sa_column=sa.Column(sa.Integer, nullable=False, unique=True))
    event_id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))
    endpoint_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    attempts: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.String, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    failed_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
