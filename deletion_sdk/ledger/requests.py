"""Deletion-request lifecycle: intake, the status state machine, deadlines and extensions.

Statuses (DESIGN.md), main path and side exits::

    received -> verified -> scheduled -> unlearning -> verifying -> completed
    side exits: denied, cancelled, no_data (final); failed (retry: failed -> scheduled)
    escalation: verifying -> unlearning (a stronger method after a failed check)

The allowed moves are exactly :data:`TRANSITIONS`. Every move (and every deadline extension) is appended to
``request_history`` with time, actor and reason; an illegal move raises :class:`IllegalTransitionError` and
changes nothing. ``completed``, ``denied``, ``cancelled`` and ``no_data`` are final; ``failed`` is not (it
may be retried and its deadline still runs).

Deadlines come from the request's policy: ``due_at = policy.deadline.due_at(received_at)``; one extension
(``policy.deadline.max_extensions``) moves it to ``policy.deadline.extended_due_at(due_at)`` and must be
granted, with a reason, before the current deadline passes.

Intake is safe under concurrency: the idempotency key is UNIQUE and a partial unique index allows one open
request per (subject, policy). A submit that loses a race hits the constraint, rolls back and re-reads the
winner's request, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from deletion_sdk.errors import ConflictError, IllegalTransitionError, InputError, NotFoundError
from deletion_sdk.ledger._bulk import ensure_subjects
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import DeletionRequest, RequestHistory
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit, text_digest
from deletion_sdk.ledger.records import HistoryEntry, RequestRecord, SubmitResult
from deletion_sdk.ledger.statuses import TERMINAL_STATUSES, RequestStatus
from deletion_sdk.ledger.subjects import validate_subject_ref
from deletion_sdk.logging import get_logger
from deletion_sdk.policy import Policy

__all__ = [
    "OPEN_STATUSES",
    "TRANSITIONS",
    "extend",
    "get",
    "history",
    "list_requests",
    "overdue",
    "received_event",
    "submit",
    "to_record",
    "transition",
]

_S = RequestStatus

TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    _S.RECEIVED: frozenset({_S.VERIFIED, _S.DENIED, _S.CANCELLED}),
    _S.VERIFIED: frozenset({_S.SCHEDULED, _S.DENIED, _S.CANCELLED, _S.NO_DATA}),
    _S.SCHEDULED: frozenset({_S.UNLEARNING, _S.CANCELLED, _S.NO_DATA, _S.FAILED}),
    _S.UNLEARNING: frozenset({_S.VERIFYING, _S.FAILED}),
    _S.VERIFYING: frozenset({_S.COMPLETED, _S.UNLEARNING, _S.FAILED}),
    _S.FAILED: frozenset({_S.SCHEDULED, _S.VERIFIED, _S.CANCELLED}),
    _S.COMPLETED: frozenset(),
    _S.DENIED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.NO_DATA: frozenset(),
}
"""Allowed status changes: ``TRANSITIONS[current]`` is the set of statuses a request may move to.

* received -> verified (identity checked), denied (e.g. identity not verifiable, legal hold), cancelled
  (withdrawn by the person).
* verified -> scheduled (queued for a batch), denied, cancelled, no_data (nothing of theirs anywhere).
* scheduled -> unlearning (a job took it), cancelled (withdrawn before work began), no_data (the batch's
  forget-set resolution found nothing in the model's training data), failed.
* unlearning -> verifying, failed.
* verifying -> completed (verified and certified), unlearning (escalate to a stronger method), failed.
* failed -> scheduled (retry), verified (released by a job that stopped on an error: due again), cancelled.
* completed, denied, cancelled, no_data: final.
"""

OPEN_STATUSES: frozenset[RequestStatus] = frozenset(set(RequestStatus) - TERMINAL_STATUSES)


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


def to_record(row: DeletionRequest) -> RequestRecord:
    """The frozen record of an ORM row."""
    return RequestRecord(
        request_id=row.id,
        subject_ref=row.subject_ref,
        policy=row.policy_id,
        policy_digest=row.policy_digest,
        status=row.status,
        received_at=row.received_at,
        due_at=row.due_at,
        extensions=row.extensions,
        extended_at=row.extended_at,
        extension_reason=row.extension_reason,
        idempotency_key=row.idempotency_key,
        completed_at=row.completed_at,
        outcome_reason=row.outcome_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def received_event(values: Mapping[str, Any]) -> dict[str, Any]:
    """Audit data of a newly recorded request from its column values (pseudonymous: ids, policy, dates)."""
    return {
        "request_id": values["id"],
        "subject_ref": values["subject_ref"],
        "policy": values["policy_id"],
        "policy_digest": values["policy_digest"],
        "received_at": values["received_at"].isoformat(),
        "due_at": values["due_at"].isoformat(),
    }


def _aware(value: datetime, parameter: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            f"The '{parameter}' parameter must be a timezone-aware datetime. Got {value!r} instead."
        )
    return value


def _find_existing(
    session: Session, *, subject_ref: str, policy_id: str, idempotency_key: str | None
) -> SubmitResult | None:
    if idempotency_key is not None:
        row = session.exec(
            select(DeletionRequest).where(DeletionRequest.idempotency_key == idempotency_key)
        ).first()
        if row is not None:
            if row.subject_ref != subject_ref or row.policy_id != policy_id:
                raise ConflictError(
                    f"idempotency key {idempotency_key!r} was already used for request {row.id}, which has a "
                    "different subject or policy; use a new key for a new request"
                )
            return SubmitResult(request=to_record(row), created=False)
    open_row = session.exec(
        select(DeletionRequest).where(
            DeletionRequest.subject_ref == subject_ref,
            DeletionRequest.policy_id == policy_id,
            col(DeletionRequest.status).in_([s.value for s in OPEN_STATUSES]),
        )
    ).first()
    if open_row is not None:
        # Under READ COMMITTED a concurrent submit with our key can commit between the two reads: the open
        # request found here is then the same request, not another one.
        same_key = idempotency_key is not None and open_row.idempotency_key == idempotency_key
        return SubmitResult(request=to_record(open_row), created=False, duplicate_of_open=not same_key)
    return None


def new_request_values(
    *,
    subject_ref: str,
    policy: Policy,
    received_at: datetime,
    idempotency_key: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Column values of a new ``received`` request (a plain dict: bulk inserts skip ORM objects)."""
    return {
        "id": str(uuid.uuid4()),
        "subject_ref": subject_ref,
        "policy_id": policy.id,
        "policy_digest": policy.digest,
        "status": _S.RECEIVED.value,
        "received_at": received_at,
        "due_at": policy.deadline.due_at(received_at),
        "extensions": 0,
        "extended_at": None,
        "extension_reason": None,
        "idempotency_key": idempotency_key,
        "completed_at": None,
        "outcome_reason": None,
        "created_at": now,
        "updated_at": now,
    }


def submit(
    ledger: Ledger,
    *,
    subject_ref: str,
    policy: Policy,
    received_at: datetime,
    idempotency_key: str | None = None,
    actor: str = "api",
    now: datetime | None = None,
) -> SubmitResult:
    """Record a deletion request, or return the one it duplicates.

    Args:
        ledger: the ledger.
        subject_ref: the person's subject reference (never the raw identifier).
        policy: the policy the request falls under (its deadline rule sets ``due_at``).
        received_at: when the request was received (timezone-aware).
        idempotency_key: a caller-chosen key; submitting it again returns the same request.
        actor: who recorded it (kept in the history).
        now: the current time (tests pin it).

    Returns:
        The request and whether it was created (see :class:`SubmitResult`).

    Raises:
        InputError: malformed arguments.
        ConflictError: the idempotency key belongs to a request of another subject or policy.
    """
    validate_subject_ref(subject_ref)
    _aware(received_at, "received_at")
    if idempotency_key is not None and not (
        isinstance(idempotency_key, str) and 0 < len(idempotency_key) <= 200
    ):
        raise InputError(
            "The 'idempotency_key' parameter must be a string of 1 to 200 characters. "
            f"Got {idempotency_key!r} instead."
        )
    for _attempt in range(5):
        try:
            with ledger.session() as session:
                found = _find_existing(
                    session, subject_ref=subject_ref, policy_id=policy.id, idempotency_key=idempotency_key
                )
                if found is not None:
                    return found
                stamp = now or utcnow()
                row = DeletionRequest(
                    **new_request_values(
                        subject_ref=subject_ref,
                        policy=policy,
                        received_at=received_at,
                        idempotency_key=idempotency_key,
                        now=stamp,
                    )
                )
                ensure_subjects(session, [subject_ref], now=stamp)
                session.add(row)
                session.flush()
                session.add(
                    RequestHistory(
                        request_id=row.id, from_status=None, to_status=row.status, at=stamp, actor=actor
                    )
                )
                record = to_record(row)
                emit(session, "request.received", received_event(row.model_dump()), actor=actor)
        except sa.exc.IntegrityError:
            # A concurrent submit recorded the same key, or an open request of the same subject and policy,
            # between our read and our insert. Our transaction is rolled back; read theirs.
            _log().info("request.submit_race", subject_ref=subject_ref, policy=policy.id)
            continue
        _log().info(
            "request.submitted",
            request_id=record.request_id,
            subject_ref=subject_ref,
            policy=policy.id,
            due_at=record.due_at.isoformat(),
            actor=actor,
        )
        return SubmitResult(request=record, created=True)
    raise ConflictError("could not record the request: concurrent submits kept conflicting; try again")


def _locked(session: Session, request_id: str) -> DeletionRequest:
    if not isinstance(request_id, str) or not request_id:
        raise InputError(f"The 'request_id' parameter must be a request id. Got {request_id!r} instead.")
    row = session.get(DeletionRequest, request_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no deletion request with id {request_id!r}")
    return row


def transition(
    session: Session,
    *,
    request_id: str,
    to: RequestStatus | str,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> RequestRecord:
    """Move a request to status ``to`` (one of ``TRANSITIONS[current]``) and record it in the history.

    Raises:
        InputError: ``to`` is not a status.
        NotFoundError: no such request.
        IllegalTransitionError: the lifecycle does not allow the move; nothing is changed.
    """
    try:
        target = RequestStatus(to)
    except ValueError as e:
        raise InputError(
            f"The 'to' parameter must be one of {', '.join(s.value for s in RequestStatus)}. "
            f"Got {to!r} instead."
        ) from e
    row = _locked(session, request_id)
    current = RequestStatus(row.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final status)"
        raise IllegalTransitionError(
            f"request {request_id} cannot go from '{current.value}' to '{target.value}'; allowed from "
            f"'{current.value}': {allowed}"
        )
    stamp = now or utcnow()
    row.status = target.value
    row.updated_at = stamp
    if target in TERMINAL_STATUSES:
        row.completed_at = stamp
        row.outcome_reason = reason
    session.add(row)
    session.add(
        RequestHistory(
            request_id=row.id,
            from_status=current.value,
            to_status=target.value,
            at=stamp,
            actor=actor,
            reason=reason,
        )
    )
    session.flush()
    emit(
        session,
        "request.status_changed",
        {
            "request_id": row.id,
            "subject_ref": row.subject_ref,
            "policy": row.policy_id,
            "from_status": current.value,
            "to_status": target.value,
            "reason_sha256": text_digest(reason),
        },
        actor=actor,
    )
    _log().info(
        "request.transition",
        request_id=row.id,
        from_status=current.value,
        to_status=target.value,
        actor=actor,
    )
    return to_record(row)


def extend(
    session: Session,
    *,
    request_id: str,
    reason: str,
    policy: Policy,
    actor: str,
    now: datetime | None = None,
) -> RequestRecord:
    """Extend an open request's deadline once, as its policy allows, recording the reason.

    Raises:
        InputError: empty reason, or ``policy`` is not the request's policy.
        NotFoundError: no such request.
        ConflictError: the request is final, already extended as often as allowed, the policy allows no
            extension, or the current deadline has already passed.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(
            "The 'reason' parameter must be a non-empty explanation. Got an empty reason instead."
        )
    row = _locked(session, request_id)
    if row.policy_id != policy.id:
        raise InputError(
            f"The 'policy' parameter must be the request's policy {row.policy_id!r}. "
            f"Got {policy.id!r} instead."
        )
    if RequestStatus(row.status) in TERMINAL_STATUSES:
        raise ConflictError(f"request {request_id} is {row.status}; a finished request cannot be extended")
    allowed = policy.deadline.max_extensions
    if row.extensions >= allowed:
        raise ConflictError(
            f"request {request_id} was already extended {row.extensions} time(s); policy {policy.id} allows "
            f"{allowed}"
        )
    stamp = now or utcnow()
    if stamp > row.due_at:
        raise ConflictError(
            f"request {request_id} was due at {row.due_at.isoformat()}; an extension must be granted before "
            "the deadline passes"
        )
    old_due = row.due_at
    why = reason.strip()
    row.due_at = policy.deadline.extended_due_at(old_due)
    row.extensions += 1
    row.extended_at = stamp
    row.extension_reason = why
    row.updated_at = stamp
    session.add(row)
    session.add(
        RequestHistory(
            request_id=row.id,
            from_status=row.status,
            to_status=row.status,
            at=stamp,
            actor=actor,
            reason=f"deadline extended from {old_due.isoformat()} to {row.due_at.isoformat()}: {why}",
        )
    )
    session.flush()
    emit(
        session,
        "request.extended",
        {
            "request_id": row.id,
            "subject_ref": row.subject_ref,
            "policy": row.policy_id,
            "previous_due_at": old_due.isoformat(),
            "due_at": row.due_at.isoformat(),
            "reason_sha256": text_digest(why),
        },
        actor=actor,
    )
    _log().info("request.extended", request_id=row.id, due_at=row.due_at.isoformat(), actor=actor)
    return to_record(row)


def get(session: Session, request_id: str) -> RequestRecord:
    """The request with id ``request_id``.

    Raises:
        NotFoundError: no such request.
    """
    row = session.get(DeletionRequest, request_id) if isinstance(request_id, str) else None
    if row is None:
        raise NotFoundError(f"no deletion request with id {request_id!r}")
    return to_record(row)


def history(session: Session, request_id: str) -> tuple[HistoryEntry, ...]:
    """The request's history, oldest first.

    Raises:
        NotFoundError: no such request.
    """
    get(session, request_id)
    rows = session.exec(
        select(RequestHistory).where(RequestHistory.request_id == request_id).order_by(col(RequestHistory.id))
    ).all()
    return tuple(
        HistoryEntry(
            request_id=r.request_id,
            from_status=r.from_status,
            to_status=r.to_status,
            at=r.at,
            actor=r.actor,
            reason=r.reason,
        )
        for r in rows
    )


def list_requests(
    session: Session,
    *,
    status: RequestStatus | str | None = None,
    policy: str | None = None,
    due_before: datetime | None = None,
    subject_ref: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
) -> tuple[RequestRecord, ...]:
    """Requests matching every given filter, ordered by due date then id.

    Raises:
        InputError: an unknown status, naive ``due_before`` or a bad ``limit``.
    """
    query = select(DeletionRequest)
    if status is not None:
        try:
            query = query.where(DeletionRequest.status == RequestStatus(status).value)
        except ValueError as e:
            raise InputError(
                f"The 'status' parameter must be one of {', '.join(s.value for s in RequestStatus)}. "
                f"Got {status!r} instead."
            ) from e
    if policy is not None:
        query = query.where(DeletionRequest.policy_id == policy)
    if due_before is not None:
        query = query.where(DeletionRequest.due_at < _aware(due_before, "due_before"))
    if subject_ref is not None:
        query = query.where(DeletionRequest.subject_ref == validate_subject_ref(subject_ref))
    if open_only:
        query = query.where(col(DeletionRequest.status).in_([s.value for s in OPEN_STATUSES]))
    query = query.order_by(col(DeletionRequest.due_at), col(DeletionRequest.id))
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise InputError(f"The 'limit' parameter must be a positive integer. Got {limit!r} instead.")
        query = query.limit(limit)
    return tuple(to_record(r) for r in session.exec(query).all())


def overdue(session: Session, *, now: datetime | None = None) -> tuple[RequestRecord, ...]:
    """Open (not final) requests whose due date is before ``now``, most overdue first."""
    return list_requests(session, due_before=now or utcnow(), open_only=True)
