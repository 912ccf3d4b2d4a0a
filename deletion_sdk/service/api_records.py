"""``/v1/jobs`` and ``/v1/audit``: batch jobs, their certificates, the signed checkpoint, inclusion proofs."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from deletion_sdk.errors import NotFoundError
from deletion_sdk.ledger.api_tokens import Scope, TokenRecord
from deletion_sdk.ledger.jobs import JobRecord
from deletion_sdk.service.auth import ServiceState, require, service_state
from deletion_sdk.service.schemas import (
    CheckpointView,
    EnvelopeView,
    JobList,
    JobView,
    ProofView,
    error_responses,
)

__all__ = ["router"]

router = APIRouter(tags=["records"])

State = Annotated[ServiceState, Depends(service_state)]
Officer = Annotated[TokenRecord, Depends(require(Scope.OFFICER))]
JobId = Annotated[str, Path(min_length=1, max_length=64, description="The job id (a UUID).")]
_MAX_INDEX = 2**62


def _job(record: JobRecord) -> JobView:
    return JobView(
        job_id=record.job_id,
        model_name=record.model_name,
        policy_id=record.policy_id,
        status=record.status,  # type: ignore[arg-type]  # the table's CHECK constraint allows these three
        step=record.step.value,
        attempt=record.attempt,
        error=record.error,
        created_at=record.created_at,
        updated_at=record.updated_at,
        finished_at=record.finished_at,
        has_certificate=record.state.certificate_envelope is not None,
    )


@router.get(
    "/v1/jobs",
    response_model=JobList,
    summary="List batch jobs",
    responses=error_responses(401, 403, 422, 429),
)
def list_jobs(
    state: State,
    _token: Officer,
    model: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Annotated[Literal["running", "completed", "failed"] | None, Query()] = None,
) -> JobList:
    """Batch deletion jobs, newest first."""
    return JobList(items=[_job(j) for j in state.sdk.list_jobs(model=model, status=status)])


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobView,
    summary="A batch job",
    responses=error_responses(400, 401, 403, 404, 422, 429),
)
def get_job(job_id: JobId, state: State, _token: Officer) -> JobView:
    """One batch job: its step, attempt and outcome."""
    return _job(state.sdk.get_job(job_id=job_id))


@router.get(
    "/v1/jobs/{job_id}/certificate",
    response_model=EnvelopeView,
    summary="A job's signed certificate",
    responses=error_responses(400, 401, 403, 404, 422, 429),
)
def get_certificate(job_id: JobId, state: State, _token: Officer) -> EnvelopeView:
    """The certificate's DSSE envelope, as written to the ``*.intoto.json`` file.

    Check it offline with ``deletion-sdk certificate verify FILE --key PUB.pem``.
    """
    job = state.sdk.get_job(job_id=job_id)
    envelope = job.state.certificate_envelope
    if envelope is None:
        raise NotFoundError(f"job {job_id} has no certificate (status {job.status}, step {job.step.value})")
    return EnvelopeView.model_validate(json.loads(envelope))


@router.get(
    "/v1/audit/checkpoint",
    response_model=CheckpointView,
    summary="The latest signed checkpoint",
    responses=error_responses(401, 403, 404, 429),
)
def latest_checkpoint(state: State, _token: Officer) -> CheckpointView:
    """The audit log's latest signed tree head (a C2SP signed note)."""
    signed = state.sdk.audit_log.latest_checkpoint()
    if signed is None:
        raise NotFoundError("the audit log has no signed checkpoint yet")
    return CheckpointView(
        tree_size=signed.tree_size,
        root_hash=signed.root_hash,
        key_id=signed.key_id,
        note=signed.note,
        created_at=signed.created_at,
    )


@router.get(
    "/v1/audit/entries/{index}/proof",
    response_model=ProofView,
    summary="An inclusion proof",
    responses=error_responses(400, 401, 403, 404, 422, 429, 500),
)
def inclusion_proof(
    state: State,
    _token: Officer,
    index: Annotated[int, Path(ge=0, le=_MAX_INDEX, description="The entry's 0-based index.")],
    tree_size: Annotated[
        int | None,
        Query(
            ge=1,
            le=_MAX_INDEX,
            description="Prove against this tree size (default: the latest signed "
            "checkpoint that covers the entry, else the whole log).",
        ),
    ] = None,
) -> ProofView:
    """An RFC 9162 proof that entry ``index`` is in the tree; with the signed note when one covers it."""
    proof = state.sdk.audit_log.inclusion_proof(index, size=tree_size)
    return ProofView(
        index=proof.index,
        tree_size=proof.tree_size,
        leaf_hash=proof.leaf_hash,
        root_hash=proof.root_hash,
        proof=list(proof.proof),
        checkpoint=proof.checkpoint,
        event=None if proof.event is None else proof.event.model_dump(mode="json"),
    )
