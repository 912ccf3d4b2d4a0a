"""The batch-job queue: claiming requests, persisting each step, taking over dead workers' jobs.

Claiming is one transaction. On PostgreSQL the candidate requests are read with
``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers split the queue without waiting on each other;
on SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer at a time). Either way a request is moved to
``scheduled`` and linked to exactly one running job before the transaction commits, so two workers never
process the same request.

A job records the worker holding it (``host:pid``) and a lease. A running job may be taken over when its
lease has expired, or when its worker ran on this host and that process no longer exists (a killed batch
run resumes at once instead of waiting for the lease). Every update is fenced: it fails with
:class:`ConflictError` when another worker has taken the job over. :func:`lock_model` serialises the
claim of one model's jobs across workers (a transaction-scoped advisory lock on PostgreSQL).

A job's state is typed (:class:`~deletion_sdk.ledger.job_state.JobState`) and validated on every read.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlmodel import Session, col, select

from deletion_sdk.errors import ConflictError, InputError, NotFoundError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import DeletionRequest
from deletion_sdk.ledger.job_state import JobState, Step
from deletion_sdk.ledger.job_tables import CertificateRow, JobRequestRow, JobRow
from deletion_sdk.ledger.requests import transition
from deletion_sdk.ledger.statuses import RequestStatus

__all__ = [
    "CertificateRecord",
    "JobRecord",
    "claim_new_job",
    "claim_stale_job",
    "count_due",
    "current_worker",
    "get_certificate",
    "get_job",
    "job_request_ids",
    "list_jobs",
    "lock_model",
    "record_certificate",
    "update_job",
]

DEFAULT_LEASE_S = 600.0


class JobRecord(BaseModel):
    """A batch job as stored."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    model_name: str
    policy_id: str
    status: str
    step: Step
    attempt: int
    worker: str
    lease_expires_at: AwareDatetime
    state: JobState
    error: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    finished_at: AwareDatetime | None


class CertificateRecord(BaseModel):
    """Where a job's certificate is and what it signed."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    model_version_id: int
    path: str
    payload_sha256: str
    key_id: str
    audit_index: int
    issued_at: AwareDatetime


def current_worker() -> str:
    """This process's worker id, ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_is_dead(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _record(row: JobRow) -> JobRecord:
    return JobRecord(
        job_id=row.id,
        model_name=row.model_name,
        policy_id=row.policy_id,
        status=row.status,
        step=Step(row.step),
        attempt=row.attempt,
        worker=row.worker,
        lease_expires_at=row.lease_expires_at,
        state=JobState.model_validate(row.state or {}),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def lock_model(session: Session, model_name: str) -> None:
    """Serialise job claims for ``model_name`` until ``session``'s transaction ends.

    On PostgreSQL a transaction-scoped advisory lock keyed by the model name; on SQLite the write
    transaction (``BEGIN IMMEDIATE``) already admits one writer at a time, so nothing more is needed.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"job:{model_name}".encode()).digest()[:8], "big", signed=True)
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _skip_locked(session: Session, query: Any) -> Any:
    bind = session.get_bind()
    return query.with_for_update(skip_locked=True) if bind.dialect.name == "postgresql" else query


def claim_new_job(
    session: Session,
    *,
    model_name: str,
    first_step: Step = Step.RESOLVE,
    policy_id: str | None = None,
    max_requests: int | None = None,
    worker: str | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    now: datetime | None = None,
) -> JobRecord | None:
    """Create a job holding the due (``verified``) requests, earliest deadline first.

    Args:
        session: a write session (its transaction makes the claim atomic).
        model_name: the model the job will make forget.
        first_step: the step the job starts at.
        policy_id: only requests under this policy; None takes the policy of the earliest-due request.
        max_requests: at most this many requests (None: all due under the policy).
        worker: the claiming worker (default: this process).
        lease_s: seconds before another worker may take the job over.
        now: the current time.

    Returns:
        The new job, or None when no request is due.
    """
    if max_requests is not None and (not isinstance(max_requests, int) or max_requests < 1):
        raise InputError(
            f"The 'max_requests' parameter must be an int >= 1 or None. Got {max_requests!r} instead."
        )
    stamp = now or utcnow()
    due = select(DeletionRequest).where(DeletionRequest.status == RequestStatus.VERIFIED.value)
    if policy_id is None:
        first = session.exec(
            _skip_locked(session, due.order_by(col(DeletionRequest.due_at), col(DeletionRequest.id)).limit(1))
        ).first()
        if first is None:
            return None
        policy_id = first.policy_id
    query = due.where(DeletionRequest.policy_id == policy_id).order_by(
        col(DeletionRequest.due_at), col(DeletionRequest.id)
    )
    if max_requests is not None:
        query = query.limit(max_requests)
    rows = list(session.exec(_skip_locked(session, query)))
    if not rows:
        return None
    job = JobRow(
        id=str(uuid.uuid4()),
        model_name=model_name,
        policy_id=policy_id,
        status="running",
        step=Step(first_step).value,
        attempt=0,
        worker=worker or current_worker(),
        lease_expires_at=stamp + timedelta(seconds=lease_s),
        state={},
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(job)
    session.flush()
    for row in rows:
        transition(
            session,
            request_id=row.id,
            to=RequestStatus.SCHEDULED,
            actor=f"job:{job.id}",
            reason=f"claimed by batch job {job.id} for model {model_name}",
            now=stamp,
        )
        session.add(JobRequestRow(job_id=job.id, request_id=row.id))
    session.flush()
    return _record(job)


def claim_stale_job(
    session: Session,
    *,
    model_name: str,
    worker: str | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    now: datetime | None = None,
) -> JobRecord | None:
    """Take over the oldest running job of ``model_name`` whose worker is gone (lease over, process dead)."""
    stamp = now or utcnow()
    query = (
        select(JobRow)
        .where(JobRow.model_name == model_name, JobRow.status == "running")
        .order_by(col(JobRow.created_at))
    )
    for row in session.exec(_skip_locked(session, query)):
        if row.lease_expires_at <= stamp or _worker_is_dead(row.worker):
            row.worker = worker or current_worker()
            row.lease_expires_at = stamp + timedelta(seconds=lease_s)
            row.updated_at = stamp
            session.add(row)
            session.flush()
            return _record(row)
    return None


def _job_row(session: Session, job_id: str, *, lock: bool = False) -> JobRow:
    row = session.get(JobRow, job_id, with_for_update=lock)
    if row is None:
        raise NotFoundError(f"no batch job with id {job_id!r}")
    return row


def get_job(session: Session, job_id: str) -> JobRecord:
    """The job with id ``job_id`` (NotFoundError when there is none)."""
    return _record(_job_row(session, job_id))


def list_jobs(
    session: Session, *, model_name: str | None = None, status: str | None = None
) -> tuple[JobRecord, ...]:
    """Jobs, newest first."""
    query = select(JobRow).order_by(col(JobRow.created_at).desc())
    if model_name is not None:
        query = query.where(JobRow.model_name == model_name)
    if status is not None:
        query = query.where(JobRow.status == status)
    return tuple(_record(r) for r in session.exec(query))


def job_request_ids(session: Session, job_id: str) -> tuple[str, ...]:
    """The ids of the requests a job claimed, sorted."""
    rows = session.exec(select(JobRequestRow.request_id).where(JobRequestRow.job_id == job_id))
    return tuple(sorted(rows))


def update_job(
    session: Session,
    job_id: str,
    *,
    worker: str,
    step: Step | None = None,
    attempt: int | None = None,
    state: JobState | None = None,
    status: str | None = None,
    error: str | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    now: datetime | None = None,
) -> JobRecord:
    """Persist a step's outcome: replace the job's state with ``state``, move it on, renew the lease.

    Raises:
        ConflictError: ``worker`` no longer holds the job (another worker took it over), or it is finished.
    """
    stamp = now or utcnow()
    row = _job_row(session, job_id, lock=True)
    if row.worker != worker:
        raise ConflictError(f"batch job {job_id} is now held by worker {row.worker}, not {worker}")
    if row.status != "running":
        raise ConflictError(f"batch job {job_id} is already {row.status}")
    if step is not None:
        row.step = Step(step).value
    if attempt is not None:
        row.attempt = attempt
    if state is not None:
        row.state = state.model_dump(mode="json")
    if error is not None:
        row.error = error
    if status is not None:
        if status not in ("running", "completed", "failed"):
            raise InputError(f"The 'status' parameter must be running, completed or failed. Got {status!r}.")
        row.status = status
        if status != "running":
            row.finished_at = stamp
    row.lease_expires_at = stamp + timedelta(seconds=lease_s)
    row.updated_at = stamp
    session.add(row)
    session.flush()
    return _record(row)


def record_certificate(
    session: Session,
    *,
    job_id: str,
    model_version_id: int,
    path: str,
    payload_sha256: str,
    key_id: str,
    audit_index: int,
    issued_at: datetime,
) -> CertificateRecord:
    """Record the job's certificate (one per job: a second call returns the first)."""
    existing = session.get(CertificateRow, job_id)
    if existing is None:
        existing = CertificateRow(
            job_id=job_id,
            model_version_id=model_version_id,
            path=path,
            payload_sha256=payload_sha256,
            key_id=key_id,
            audit_index=audit_index,
            issued_at=issued_at,
        )
        session.add(existing)
        session.flush()
    return CertificateRecord.model_validate(existing, from_attributes=True)


def get_certificate(session: Session, job_id: str) -> CertificateRecord | None:
    """The job's certificate record, or None."""
    row = session.get(CertificateRow, job_id)
    return None if row is None else CertificateRecord.model_validate(row, from_attributes=True)


def count_due(session: Session, *, policy_id: str | None = None) -> int:
    """How many requests are ``verified`` and waiting for a batch."""
    query = (
        sa.select(sa.func.count())
        .select_from(DeletionRequest)
        .where(col(DeletionRequest.status) == RequestStatus.VERIFIED.value)
    )
    if policy_id is not None:
        query = query.where(col(DeletionRequest.policy_id) == policy_id)
    return int(session.execute(query).scalar_one())
