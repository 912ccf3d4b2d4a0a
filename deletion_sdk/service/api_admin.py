"""``/v1/webhooks``: webhook receivers, and the deliveries that failed every attempt (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from deletion_sdk.ledger.api_tokens import Scope, TokenRecord
from deletion_sdk.ledger.webhooks import DeadLetterRecord, DeliveryRecord, EndpointRecord
from deletion_sdk.service.admin import ServiceAdmin
from deletion_sdk.service.auth import ServiceState, require, service_state
from deletion_sdk.service.schemas import (
    DeadLetterList,
    DeadLetterView,
    DeliveryView,
    EndpointList,
    EndpointView,
    NewEndpointView,
    WebhookBody,
    error_responses,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

State = Annotated[ServiceState, Depends(service_state)]
Admin = Annotated[TokenRecord, Depends(require(Scope.ADMIN))]
EndpointId = Annotated[str, Path(min_length=1, max_length=64)]


def _endpoint(e: EndpointRecord) -> EndpointView:
    return EndpointView(
        endpoint_id=e.endpoint_id,
        url=e.url,
        events=list(e.events),
        created_at=e.created_at,
        disabled_at=e.disabled_at,
    )


def _dead(d: DeadLetterRecord) -> DeadLetterView:
    return DeadLetterView(
        dead_letter_id=d.dead_letter_id,
        delivery_id=d.delivery_id,
        event_id=d.event_id,
        endpoint_id=d.endpoint_id,
        event_type=d.event_type,
        payload=d.payload,
        attempts=d.attempts,
        last_error=d.last_error,
        failed_at=d.failed_at,
    )


def _delivery(d: DeliveryRecord) -> DeliveryView:
    return DeliveryView(
        delivery_id=d.delivery_id,
        event_id=d.event_id,
        endpoint_id=d.endpoint_id,
        event_type=d.event_type,
        status=d.status,  # type: ignore[arg-type]  # the table's CHECK constraint allows these two
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_error=d.last_error,
    )


@router.post(
    "",
    status_code=201,
    response_model=NewEndpointView,
    summary="Add a webhook receiver",
    responses=error_responses(400, 401, 403, 413, 422, 429),
)
def add_webhook(body: WebhookBody, state: State, token: Admin) -> NewEndpointView:
    """Register a receiver; the answer holds its signing secret, shown only this once."""
    new = ServiceAdmin(state.sdk, actor=token.actor).add_webhook(url=body.url, events=body.events)
    return NewEndpointView(endpoint=_endpoint(new.endpoint), secret=new.secret)


@router.get(
    "",
    response_model=EndpointList,
    summary="List webhook receivers",
    responses=error_responses(401, 403, 429),
)
def list_webhooks(state: State, token: Admin) -> EndpointList:
    return EndpointList(
        items=[_endpoint(e) for e in ServiceAdmin(state.sdk, actor=token.actor).list_webhooks()]
    )


@router.delete(
    "/{endpoint_id}",
    response_model=EndpointView,
    summary="Disable a webhook receiver",
    responses=error_responses(400, 401, 403, 404, 422, 429),
)
def disable_webhook(endpoint_id: EndpointId, state: State, token: Admin) -> EndpointView:
    """Stop queueing new events for the receiver (deliveries already queued still go out)."""
    return _endpoint(ServiceAdmin(state.sdk, actor=token.actor).disable_webhook(endpoint_id=endpoint_id))


@router.get(
    "/dead-letters",
    response_model=DeadLetterList,
    summary="Deliveries that failed every attempt",
    responses=error_responses(401, 403, 422, 429),
)
def dead_letters(
    state: State, token: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> DeadLetterList:
    admin = ServiceAdmin(state.sdk, actor=token.actor)
    return DeadLetterList(items=[_dead(d) for d in admin.dead_letters(limit=limit)])


@router.post(
    "/dead-letters/{dead_letter_id}/retry",
    response_model=DeliveryView,
    summary="Queue a dead letter again",
    responses=error_responses(401, 403, 404, 422, 429),
)
def retry_dead_letter(
    state: State, token: Admin, dead_letter_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> DeliveryView:
    """Queue the delivery again (same event id and payload), e.g. after the receiver was fixed."""
    admin = ServiceAdmin(state.sdk, actor=token.actor)
    return _delivery(admin.requeue_dead_letter(dead_letter_id=dead_letter_id))
