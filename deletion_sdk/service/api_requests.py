"""``/v1/requests``: submit a deletion request, read its status and history, review it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response

from deletion_sdk.errors import AuthenticationError
from deletion_sdk.ledger.api_tokens import Scope, TokenRecord
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.service.auth import ServiceState, bearer_token, require, service_state, unauthenticated
from deletion_sdk.service.batching import Submission
from deletion_sdk.service.schemas import (
    HistoryItem,
    ReasonBody,
    RequestDetail,
    RequestList,
    RequestView,
    RequiredReasonBody,
    SubmitBody,
    SubmitResponse,
    error_responses,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/requests", tags=["requests"])

State = Annotated[ServiceState, Depends(service_state)]
Intake = Annotated[TokenRecord, Depends(require(Scope.INTAKE))]
# Submissions: the intake writer checks the token (scope intake, rate) just before recording the request.
Bearer = Annotated[str, Depends(bearer_token)]
Officer = Annotated[TokenRecord, Depends(require(Scope.OFFICER))]
RequestId = Annotated[str, Path(min_length=1, max_length=64, description="The request id (a UUID).")]


@router.post(
    "",
    status_code=201,
    response_model=SubmitResponse,
    summary="Submit a deletion request",
    responses={
        200: {
            "model": SubmitResponse,
            "description": "Already recorded: same key, or an open request of "
            "the same person under the same policy (returned).",
        },
        201: {"description": "Recorded."},
        **error_responses(400, 401, 403, 409, 413, 422, 429),
    },
)
async def submit_request(
    body: SubmitBody,
    state: State,
    token: Bearer,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="A key chosen by the client: sending the same key again returns the same request.",
        ),
    ],
) -> Response:
    """Record a request. The identifier is turned into a keyed hash at once; it is never stored or logged."""
    # Concurrent submissions share one transaction (group commit); each still gets its own answer or error.
    submission = Submission(
        token=token,
        subject=body.subject,
        policy=body.policy,
        received_at=body.received_at,
        idempotency_key=idempotency_key,
        verified=body.verified,
    )
    try:
        result = await state.intake.submit(submission)
    except AuthenticationError as e:
        raise unauthenticated(str(e)) from e
    answer = SubmitResponse(
        request=RequestView.of(result.request),
        created=result.created,
        duplicate_of_open=result.duplicate_of_open,
    )
    # Validated as it was built: a Response spares FastAPI validating the same model a second time.
    return Response(
        content=answer.model_dump_json(),
        status_code=201 if result.created else 200,
        media_type="application/json",
    )


@router.get(
    "",
    response_model=RequestList,
    summary="List requests",
    responses=error_responses(400, 401, 403, 422, 429),
)
def list_requests(
    state: State,
    _token: Officer,
    status: Annotated[RequestStatus | None, Query(description="Only requests with this status.")] = None,
    policy: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RequestList:
    """Requests matching every filter, earliest due first."""
    records = state.sdk.list_requests(status=status, policy=policy, limit=limit)
    return RequestList(items=[RequestView.of(r) for r in records])


@router.get(
    "/{request_id}",
    response_model=RequestDetail,
    summary="A request's status and history",
    responses=error_responses(400, 401, 403, 404, 422, 429),
)
def get_request(request_id: RequestId, state: State, _token: Intake) -> RequestDetail:
    """The request and every status change (time, actor, reason), oldest first."""
    record = state.sdk.get_request(request_id=request_id)
    history = state.sdk.request_history(request_id=request_id)
    return RequestDetail(request=RequestView.of(record), history=[HistoryItem.of(h) for h in history])


_REVIEW = error_responses(400, 401, 403, 404, 409, 413, 422, 429)


@router.post(
    "/{request_id}/verify", response_model=RequestView, summary="Mark identity verified", responses=_REVIEW
)
def verify_request(
    request_id: RequestId, state: State, token: Officer, body: Annotated[ReasonBody | None, Body()] = None
) -> RequestView:
    """received -> verified: the requester's identity was checked."""
    reason = body.reason if body is not None else None
    return RequestView.of(state.sdk.verify_request(request_id=request_id, actor=token.actor, reason=reason))


@router.post("/{request_id}/deny", response_model=RequestView, summary="Deny a request", responses=_REVIEW)
def deny_request(
    request_id: RequestId, body: RequiredReasonBody, state: State, token: Officer
) -> RequestView:
    """Deny with a reason (what the person is told)."""
    return RequestView.of(
        state.sdk.deny_request(request_id=request_id, reason=body.reason, actor=token.actor)
    )


@router.post(
    "/{request_id}/extend", response_model=RequestView, summary="Extend the deadline", responses=_REVIEW
)
def extend_request(
    request_id: RequestId, body: RequiredReasonBody, state: State, token: Officer
) -> RequestView:
    """Extend the deadline once, as the request's policy allows, before it passes."""
    return RequestView.of(
        state.sdk.extend_request(request_id=request_id, reason=body.reason, actor=token.actor)
    )


@router.post(
    "/{request_id}/cancel", response_model=RequestView, summary="Cancel a request", responses=_REVIEW
)
def cancel_request(
    request_id: RequestId, state: State, token: Officer, body: Annotated[ReasonBody | None, Body()] = None
) -> RequestView:
    """Cancel (withdrawn by the person) before unlearning starts."""
    reason = body.reason if body is not None else None
    return RequestView.of(state.sdk.cancel_request(request_id=request_id, reason=reason, actor=token.actor))
