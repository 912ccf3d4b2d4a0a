"""Webhook endpoints and their outbox: a delivery row per (request change, endpoint), never lost.

:func:`enqueue` runs inside the transaction of every request change (the SDK's event sink calls it, next to
the audit append), so a change and its pending deliveries commit or roll back together: a crash after the
commit leaves the deliveries in the table for the next worker, a crash before it leaves neither. A worker
claims due rows (:func:`claim_due`: a lease, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), posts them, and
records the outcome: delivered, retry at a later time, or moved to ``webhook_dead_letters`` after the last
attempt (:func:`record_failure`). An admin re-queues a dead letter with :func:`requeue_dead_letter`.

Payloads hold request ids, policies, statuses and dates; never a subject reference or a free-text reason.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlmodel import Session, col, select

from deletion_sdk.errors import InputError, IntegrityError, NotFoundError
from deletion_sdk.ledger._rows import one_or_many
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import ChangeEvent, emit
from deletion_sdk.ledger.service_tables import WebhookDeadLetterRow, WebhookDeliveryRow, WebhookEndpointRow

__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "DeadLetterRecord",
    "DeliveryRecord",
    "EndpointRecord",
    "add_endpoint",
    "claim_due",
    "disable_endpoint",
    "enqueue",
    "list_dead_letters",
    "list_deliveries",
    "list_endpoints",
    "record_failure",
    "record_success",
    "requeue_dead_letter",
]

WEBHOOK_EVENT_TYPES: tuple[str, ...] = ("request.received", "request.status_changed", "request.extended")
"""The ledger events that are announced to webhook endpoints (every request status change and extension)."""

_PAYLOAD_KEYS = (
    "request_id",
    "policy",
    "from_status",
    "to_status",
    "received_at",
    "due_at",
    "previous_due_at",
)
_MAX_ERROR = 500
_ENDPOINTS = table_of(WebhookEndpointRow)
# Built once: enqueue runs inside every request change's transaction.
_ENABLED_ENDPOINTS = sa.select(_ENDPOINTS.c.id, _ENDPOINTS.c.events).where(_ENDPOINTS.c.disabled_at.is_(None))
_INSERT_DELIVERY = sa.insert(table_of(WebhookDeliveryRow))


class EndpointRecord(BaseModel):
    """A webhook receiver (its signing secret is derived, never stored: see deletion_sdk.service)."""

    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    url: str
    events: tuple[str, ...]
    secret_salt: str
    created_at: AwareDatetime
    disabled_at: AwareDatetime | None


class DeliveryRecord(BaseModel):
    """One outbox row."""

    model_config = ConfigDict(frozen=True)

    delivery_id: int
    event_id: str
    endpoint_id: str
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: AwareDatetime
    last_error: str | None
    created_at: AwareDatetime
    delivered_at: AwareDatetime | None


class DeadLetterRecord(BaseModel):
    """A delivery that failed every attempt."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: int
    delivery_id: int
    event_id: str
    endpoint_id: str
    event_type: str
    payload: str
    attempts: int
    last_error: str | None
    created_at: AwareDatetime
    failed_at: AwareDatetime


def _row_id(value: int | None) -> int:
    if value is None:  # only unflushed rows lack an id; every caller flushes first
        raise IntegrityError("a webhook row was read before the database assigned its id")
    return value


def _endpoint(row: WebhookEndpointRow) -> EndpointRecord:
    return EndpointRecord(
        endpoint_id=row.id,
        url=row.url,
        events=tuple(row.events.split(",")),
        secret_salt=row.secret_salt,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def _delivery(row: WebhookDeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=_row_id(row.id),
        event_id=row.event_id,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _dead(row: WebhookDeadLetterRow) -> DeadLetterRecord:
    return DeadLetterRecord(
        dead_letter_id=_row_id(row.id),
        delivery_id=row.delivery_id,
        event_id=row.event_id,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        payload=row.payload,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        failed_at=row.failed_at,
    )


def _check_url(url: object) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(str(url)) > 2048:
        raise InputError(
            f"The 'url' parameter must be an http:// or https:// URL of at most 2048 characters. Got {url!r}."
        )
    return str(url)


def _check_events(events: Sequence[str] | None) -> tuple[str, ...]:
    if events is None or list(events) == ["*"]:
        return ("*",)
    chosen = tuple(sorted(set(events)))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENT_TYPES]
    if not chosen or unknown:
        raise InputError(
            f"The 'events' parameter must list some of {', '.join(WEBHOOK_EVENT_TYPES)} (or '*'). "
            f"Got {list(events)!r} instead."
        )
    return chosen


def add_endpoint(
    ledger: Ledger, *, url: str, events: Sequence[str] | None = None, actor: str, now: datetime | None = None
) -> EndpointRecord:
    """Register a receiver for ``events`` (default: every request event).

    Raises:
        InputError: not an http(s) URL, or an unknown event type.
    """
    row = WebhookEndpointRow(
        id=secrets.token_hex(8),
        url=_check_url(url),
        events=",".join(_check_events(events)),
        secret_salt=secrets.token_hex(16),
        created_at=now or utcnow(),
    )
    with ledger.session() as session:
        session.add(row)
        session.flush()
        emit(session, "webhook_endpoint.added", {"endpoint_id": row.id}, actor=actor)
        return _endpoint(row)


def list_endpoints(session: Session, *, include_disabled: bool = True) -> tuple[EndpointRecord, ...]:
    """Endpoints, oldest first."""
    query = select(WebhookEndpointRow).order_by(
        col(WebhookEndpointRow.created_at), col(WebhookEndpointRow.id)
    )
    if not include_disabled:
        query = query.where(col(WebhookEndpointRow.disabled_at).is_(None))
    return tuple(_endpoint(r) for r in session.exec(query).all())


def get_endpoint(session: Session, endpoint_id: str) -> EndpointRecord:
    """The endpoint with this id (NotFoundError when there is none)."""
    row = session.get(WebhookEndpointRow, endpoint_id) if isinstance(endpoint_id, str) else None
    if row is None:
        raise NotFoundError(f"no webhook endpoint with id {endpoint_id!r}")
    return _endpoint(row)


def disable_endpoint(
    ledger: Ledger, *, endpoint_id: str, actor: str, now: datetime | None = None
) -> EndpointRecord:
    """Stop announcing new events to an endpoint (deliveries already queued still go out)."""
    with ledger.session() as session:
        row = session.get(WebhookEndpointRow, endpoint_id) if isinstance(endpoint_id, str) else None
        if row is None:
            raise NotFoundError(f"no webhook endpoint with id {endpoint_id!r}")
        if row.disabled_at is None:
            row.disabled_at = now or utcnow()
            session.add(row)
            session.flush()
            emit(session, "webhook_endpoint.disabled", {"endpoint_id": row.id}, actor=actor)
        return _endpoint(row)


def payload_of(event: ChangeEvent, *, event_id: str, at: datetime) -> str:
    """The JSON text posted for ``event`` (sorted keys, no subject reference, no free text)."""
    data = {k: event.data[k] for k in _PAYLOAD_KEYS if k in event.data}
    body = {"id": event_id, "type": event.type, "created_at": at.isoformat(), "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def enqueue(session: Session, events: Sequence[ChangeEvent], *, now: datetime | None = None) -> int:
    """Queue one delivery per (request event, enabled endpoint that wants it), in ``session``'s transaction.

    Returns:
        The number of deliveries queued.
    """
    wanted = [e for e in events if e.type in WEBHOOK_EVENT_TYPES]
    if not wanted:
        return 0
    endpoints = session.execute(_ENABLED_ENDPOINTS).all()
    if not endpoints:
        return 0
    stamp = now or utcnow()
    rows: list[dict[str, Any]] = []
    for event in wanted:
        event_id = str(uuid.uuid4())
        payload = payload_of(event, event_id=event_id, at=stamp)
        for endpoint_id, kinds in endpoints:
            if kinds != "*" and event.type not in kinds.split(","):
                continue
            rows.append(
                {
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "event_type": event.type,
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": stamp,
                    "locked_until": None,
                    "last_error": None,
                    "created_at": stamp,
                    "delivered_at": None,
                }
            )
    if rows:
        session.execute(_INSERT_DELIVERY, one_or_many(rows))
    return len(rows)


def claim_due(
    ledger: Ledger, *, limit: int = 50, lease_s: float = 60.0, now: datetime | None = None
) -> tuple[DeliveryRecord, ...]:
    """Take up to ``limit`` pending deliveries that are due and not leased by another worker.

    Each claimed row is leased for ``lease_s`` seconds: a worker that dies mid-delivery leaves it to be
    claimed again once the lease expires (the receiver may then see it twice: deduplicate on the event id).
    """
    stamp = now or utcnow()
    with ledger.session() as session:
        query = (
            select(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.status == "pending",
                col(WebhookDeliveryRow.next_attempt_at) <= stamp,
                sa.or_(
                    col(WebhookDeliveryRow.locked_until).is_(None),
                    col(WebhookDeliveryRow.locked_until) <= stamp,
                ),
            )
            .order_by(col(WebhookDeliveryRow.next_attempt_at), col(WebhookDeliveryRow.id))
            .limit(limit)
        )
        if not ledger.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises claimers
            query = query.with_for_update(skip_locked=True)
        rows = session.exec(query).all()
        for row in rows:
            row.locked_until = stamp + timedelta(seconds=lease_s)
            session.add(row)
        session.flush()
        return tuple(_delivery(r) for r in rows)


def _locked_delivery(session: Session, delivery_id: int) -> WebhookDeliveryRow:
    row = session.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no webhook delivery with id {delivery_id!r}")
    return row


def record_success(ledger: Ledger, *, delivery_id: int, now: datetime | None = None) -> DeliveryRecord:
    """Mark a delivery as delivered (the receiver answered 2xx)."""
    stamp = now or utcnow()
    with ledger.session() as session:
        row = _locked_delivery(session, delivery_id)
        row.status = "delivered"
        row.attempts += 1
        row.delivered_at = stamp
        row.locked_until = None
        row.last_error = None
        session.add(row)
        session.flush()
        return _delivery(row)


def record_failure(
    ledger: Ledger,
    *,
    delivery_id: int,
    error: str,
    retry_at: datetime | None,
    now: datetime | None = None,
) -> DeliveryRecord | DeadLetterRecord:
    """Record a failed attempt: retry at ``retry_at``, or (None) move the delivery to the dead letters.

    Returns:
        The delivery (to be retried) or its dead letter.
    """
    stamp = now or utcnow()
    why = (error or "unknown error")[:_MAX_ERROR]
    with ledger.session() as session:
        row = _locked_delivery(session, delivery_id)
        row.attempts += 1
        row.last_error = why
        row.locked_until = None
        if retry_at is not None:
            row.next_attempt_at = retry_at
            session.add(row)
            session.flush()
            return _delivery(row)
        dead = WebhookDeadLetterRow(
            delivery_id=delivery_id,
            event_id=row.event_id,
            endpoint_id=row.endpoint_id,
            event_type=row.event_type,
            payload=row.payload,
            attempts=row.attempts,
            last_error=why,
            created_at=row.created_at,
            failed_at=stamp,
        )
        session.delete(row)
        session.add(dead)
        session.flush()
        emit(
            session,
            "webhook.dead_lettered",
            {"delivery_id": delivery_id, "event_id": dead.event_id, "endpoint_id": dead.endpoint_id},
            actor="webhooks",
        )
        return _dead(dead)


def list_deliveries(
    session: Session, *, status: str | None = None, limit: int | None = None
) -> tuple[DeliveryRecord, ...]:
    """Outbox rows, oldest first."""
    query = select(WebhookDeliveryRow).order_by(col(WebhookDeliveryRow.id))
    if status is not None:
        query = query.where(WebhookDeliveryRow.status == status)
    if limit is not None:
        query = query.limit(limit)
    return tuple(_delivery(r) for r in session.exec(query).all())


def list_dead_letters(session: Session, *, limit: int | None = None) -> tuple[DeadLetterRecord, ...]:
    """Dead letters, oldest first."""
    query = select(WebhookDeadLetterRow).order_by(col(WebhookDeadLetterRow.id))
    if limit is not None:
        query = query.limit(limit)
    return tuple(_dead(r) for r in session.exec(query).all())


def requeue_dead_letter(
    ledger: Ledger, *, dead_letter_id: int, actor: str, now: datetime | None = None
) -> DeliveryRecord:
    """Queue a dead letter again (same event id and payload, attempts from zero) and remove it."""
    stamp = now or utcnow()
    with ledger.session() as session:
        dead = session.get(WebhookDeadLetterRow, dead_letter_id, with_for_update=True)
        if dead is None:
            raise NotFoundError(f"no webhook dead letter with id {dead_letter_id!r}")
        row = WebhookDeliveryRow(
            event_id=dead.event_id,
            endpoint_id=dead.endpoint_id,
            event_type=dead.event_type,
            payload=dead.payload,
            status="pending",
            attempts=0,
            next_attempt_at=stamp,
            created_at=dead.created_at,
        )
        session.delete(dead)
        session.add(row)
        session.flush()
        emit(
            session,
            "webhook.requeued",
            {"dead_letter_id": dead_letter_id, "delivery_id": row.id, "event_id": row.event_id},
            actor=actor,
        )
        return _delivery(row)
