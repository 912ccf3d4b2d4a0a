"""Group commit of deletion-request submissions: many callers' requests recorded in one transaction.

:func:`submit_many` gives every item exactly the answer :func:`~deletion_sdk.ledger.requests.submit` would
have given it had the items been submitted one after another, in order, but writes them with a fixed number
of statements per batch (two lookups, one insert per table, one audit append, one webhook-outbox insert and
one commit) instead of a dozen per request:

* a known idempotency key answers with its request (``created=False``), or a :class:`ConflictError` for that
  item alone when the key belongs to another subject or policy;
* an open request of the same subject and policy answers ``duplicate_of_open=True`` (earlier items of the
  same batch count: they are recorded before the later ones are decided);
* every other item is recorded: request row, history row, ``request.received`` audit entry and webhook
  deliveries, all in the batch's transaction; with ``verified`` it moves straight on to ``verified`` (a
  second history row and a ``request.status_changed`` entry, in the same transaction).

A ``gate`` runs first inside the transaction (the HTTP service authenticates its callers' tokens there,
so a revocation committed before the batch's check refuses the request); an item it refuses is answered
with the gate's exception and nothing is recorded for it.

Isolation between items: a malformed item gets its own :class:`InputError` and is left out. When the batch's
transaction fails anyway, nothing of it is committed and no answer has been given yet: a unique-constraint
race with another process (PostgreSQL; SQLite serialises writers) retries the batch, which then sees the
winner's rows; any other failure, or a race that keeps repeating, falls back to recording the items one by
one, so only an item that fails on its own gets an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.errors import ConflictError, DeletionSDKError, InputError
from deletion_sdk.ledger._bulk import bulk_insert, ensure_subjects
from deletion_sdk.ledger._rows import one_or_many
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.core_tables import DeletionRequest, RequestHistory
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import ChangeEvent, emit_many, text_digest
from deletion_sdk.ledger.records import RequestRecord, SubmitResult
from deletion_sdk.ledger.requests import OPEN_STATUSES, received_event, submit, transition
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.ledger.subjects import validate_subject_ref
from deletion_sdk.logging import get_logger
from deletion_sdk.policy import Policy

__all__ = ["VERIFIED_AT_INTAKE", "Gate", "Outcome", "SubmitItem", "submit_many"]

VERIFIED_AT_INTAKE = "identity verified by the intake channel"
"""The history reason of a request that the intake channel marked as already verified."""

RACE_RETRIES = 3  # batch attempts after a unique-constraint race before falling back to one by one

_requests = table_of(DeletionRequest)
_history = table_of(RequestHistory)
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
# Built once: every batch runs them. Lookups use one indexed column each (as the CSV import does: a status
# predicate tempts PostgreSQL, before it has statistics, into scanning every open request).
# One round trip for both lookups: requests holding one of the keys, or of one of the people.
_KNOWN = sa.select(_requests).where(
    sa.or_(
        _requests.c.idempotency_key.in_(sa.bindparam("keys", expanding=True)),
        _requests.c.subject_ref.in_(sa.bindparam("refs", expanding=True)),
    )
)
BULK_ROWS = 32  # from this many rows on, inserts use the bulk path (COPY on PostgreSQL): cheaper per row

Outcome = SubmitResult | Exception
"""An item's answer: its result, or the error that item alone ran into (raise it to the item's caller)."""

Gate = Callable[[Session, Sequence["SubmitItem"]], Sequence[Exception | None]]
"""Checks run first in a batch's transaction: per item None (go ahead) or the exception that refuses it.
It runs again when the batch is retried, so what it counts (a rate limit) it must count once per item."""


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SubmitItem:
    """One submission, already validated and pseudonymised by the caller.

    Attributes:
        subject_ref: the person's subject reference (never the raw identifier).
        policy: the request's policy (its deadline rule sets ``due_at``).
        received_at: when the request was received (timezone-aware).
        idempotency_key: the stored (keyed) form of the caller's key, or None.
        actor: who recorded it (history and audit log).
        verified: the intake channel verified the requester: a new request moves on to ``verified``.
    """

    subject_ref: str
    policy: Policy
    received_at: datetime
    idempotency_key: str | None
    actor: str
    verified: bool = False


def _check(item: SubmitItem) -> None:
    """The checks :func:`~deletion_sdk.ledger.requests.submit` makes, for one item (InputError)."""
    validate_subject_ref(item.subject_ref)
    at = item.received_at
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InputError(
            f"The 'received_at' parameter must be a timezone-aware datetime. Got {at!r} instead."
        )
    key = item.idempotency_key
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= 200):
        raise InputError(
            f"The 'idempotency_key' parameter must be a string of 1 to 200 characters. Got {key!r} instead."
        )
    if not isinstance(item.actor, str) or not item.actor:
        raise InputError(f"The 'actor' parameter must be a non-empty string. Got {item.actor!r} instead.")


def _record(values: Mapping[str, Any]) -> RequestRecord:
    return RequestRecord(
        request_id=values["id"],
        subject_ref=values["subject_ref"],
        policy=values["policy_id"],
        policy_digest=values["policy_digest"],
        status=values["status"],
        received_at=values["received_at"],
        due_at=values["due_at"],
        extensions=values["extensions"],
        extended_at=values["extended_at"],
        extension_reason=values["extension_reason"],
        idempotency_key=values["idempotency_key"],
        completed_at=values["completed_at"],
        outcome_reason=values["outcome_reason"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


@dataclass
class _Known:
    """Requests the batch can answer with: stored ones (looked up) and the batch's own new ones."""

    by_key: dict[str, Mapping[str, Any]]
    open_by_pair: dict[tuple[str, str], Mapping[str, Any]]

    @classmethod
    def lookup(cls, session: Session, items: Sequence[SubmitItem]) -> _Known:
        keys = {i.idempotency_key for i in items if i.idempotency_key is not None}
        refs = {i.subject_ref for i in items}
        by_key: dict[str, Mapping[str, Any]] = {}
        open_by_pair: dict[tuple[str, str], Mapping[str, Any]] = {}
        params = {"keys": sorted(keys), "refs": sorted(refs)}
        for row in session.connection().execute(_KNOWN, params).mappings():
            values = dict(row)
            if values["idempotency_key"] in keys:
                by_key[values["idempotency_key"]] = values
            if values["subject_ref"] in refs and values["status"] in _OPEN:
                open_by_pair[(values["subject_ref"], values["policy_id"])] = values
        return cls(by_key, open_by_pair)


def _decide(item: SubmitItem, known: _Known) -> Outcome | None:
    """The answer for an item that duplicates a known request; None when it must be recorded."""
    pair = (item.subject_ref, item.policy.id)
    if item.idempotency_key is not None:
        hit = known.by_key.get(item.idempotency_key)
        if hit is not None:
            if (hit["subject_ref"], hit["policy_id"]) != pair:
                return ConflictError(
                    f"idempotency key {item.idempotency_key!r} was already used for request {hit['id']}, "
                    "which has a different subject or policy; use a new key for a new request"
                )
            return SubmitResult(request=_record(hit), created=False)
    open_row = known.open_by_pair.get(pair)
    if open_row is not None:
        same_key = item.idempotency_key is not None and open_row["idempotency_key"] == item.idempotency_key
        return SubmitResult(request=_record(open_row), created=False, duplicate_of_open=not same_key)
    return None


def _new_values(item: SubmitItem, now: datetime) -> dict[str, Any]:
    status = RequestStatus.VERIFIED if item.verified else RequestStatus.RECEIVED
    return {
        "id": str(uuid.uuid4()),
        "subject_ref": item.subject_ref,
        "policy_id": item.policy.id,
        "policy_digest": item.policy.digest,
        "status": status.value,
        "received_at": item.received_at,
        "due_at": item.policy.deadline.due_at(item.received_at),
        "extensions": 0,
        "extended_at": None,
        "extension_reason": None,
        "idempotency_key": item.idempotency_key,
        "completed_at": None,
        "outcome_reason": None,
        "created_at": now,
        "updated_at": now,
    }


def _history_row(
    request_id: str, from_status: str | None, to_status: str, at: datetime, actor: str, reason: str | None
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "from_status": from_status,
        "to_status": to_status,
        "at": at,
        "actor": actor,
        "reason": reason,
    }


def _changes(
    item: SubmitItem, values: Mapping[str, Any], now: datetime
) -> tuple[list[dict[str, Any]], list[ChangeEvent]]:
    """History rows and change events of a new request (received, then verified when asked)."""
    received = RequestStatus.RECEIVED.value
    history = [_history_row(values["id"], None, received, now, item.actor, None)]
    events = [ChangeEvent("request.received", received_event({**values, "status": received}), item.actor)]
    if item.verified:
        verified = RequestStatus.VERIFIED.value
        history.append(_history_row(values["id"], received, verified, now, item.actor, VERIFIED_AT_INTAKE))
        data = {
            "request_id": values["id"],
            "subject_ref": values["subject_ref"],
            "policy": values["policy_id"],
            "from_status": received,
            "to_status": verified,
            "reason_sha256": text_digest(VERIFIED_AT_INTAKE),
        }
        events.append(ChangeEvent("request.status_changed", data, item.actor))
    return history, events


def _insert(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One statement for a group's rows (the bulk path for large groups)."""
    if len(rows) >= BULK_ROWS:
        bulk_insert(session, table, rows)
    else:
        session.connection().execute(sa.insert(table), one_or_many(rows))


def _write(session: Session, items: Sequence[SubmitItem], now: datetime) -> list[Outcome]:
    """Decide and record every item in ``session``'s transaction (the caller commits)."""
    known = _Known.lookup(session, items)
    outcomes: list[Outcome] = []
    new_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    events: list[ChangeEvent] = []
    for item in items:
        answer = _decide(item, known)
        if answer is not None:
            outcomes.append(answer)
            continue
        values = _new_values(item, now)
        rows, changes = _changes(item, values, now)
        new_rows.append(values)
        history.extend(rows)
        events.extend(changes)
        known.open_by_pair[(item.subject_ref, item.policy.id)] = values
        if item.idempotency_key is not None:
            known.by_key[item.idempotency_key] = values
        outcomes.append(SubmitResult(request=_record(values), created=True))
    if new_rows:
        ensure_subjects(session, (v["subject_ref"] for v in new_rows), now=now)
        _insert(session, _requests, new_rows)
        _insert(session, _history, history)
        emit_many(session, events)  # one audit append and one outbox insert for the whole batch
    return outcomes


def _one(ledger: Ledger, item: SubmitItem, now: datetime | None) -> Outcome:
    """Record one item on its own (the fallback): :func:`submit`, then ``verified`` when asked."""
    try:
        result = submit(
            ledger,
            subject_ref=item.subject_ref,
            policy=item.policy,
            received_at=item.received_at,
            idempotency_key=item.idempotency_key,
            actor=item.actor,
            now=now,
        )
        if item.verified and result.created:
            with ledger.session() as session:
                record = transition(
                    session,
                    request_id=result.request.request_id,
                    to=RequestStatus.VERIFIED,
                    actor=item.actor,
                    reason=VERIFIED_AT_INTAKE,
                    now=now,
                )
            result = result.model_copy(update={"request": record})
        return result
    except DeletionSDKError as e:
        return e
    except Exception as e:  # e.g. the database went away: this item's caller gets it
        _log().warning("request.submit_failed", error_type=type(e).__name__)
        return e


def _one_by_one(
    ledger: Ledger, items: Sequence[SubmitItem], now: datetime | None, gate: Gate | None
) -> list[Outcome]:
    """The fallback: the gate in a transaction of its own, then each item it lets through on its own."""
    try:
        with ledger.session(write=False) as session:
            admitted, refusals = _gated(session, gate, items)
    except Exception as e:  # the gate itself failed (e.g. the database went away): every item hears it
        return [e] * len(items)
    return _merged(refusals, [_one(ledger, item, now) for item in admitted])


def _logged(items: Iterable[SubmitItem], outcomes: Iterable[Outcome]) -> None:
    for item, outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, SubmitResult) and outcome.created:
            record = outcome.request
            _log().info(
                "request.submitted",
                request_id=record.request_id,
                subject_ref=record.subject_ref,
                policy=record.policy,
                due_at=record.due_at.isoformat(),
                actor=item.actor,
            )


def _gated(
    session: Session, gate: Gate | None, items: Sequence[SubmitItem]
) -> tuple[list[SubmitItem], list[Exception | None]]:
    """(the items the gate lets through, per item the exception refusing it or None)."""
    refusals: list[Exception | None] = [None] * len(items) if gate is None else list(gate(session, items))
    if len(refusals) != len(items):
        raise InputError(f"the gate answered {len(refusals)} times for {len(items)} items")
    return [i for i, r in zip(items, refusals, strict=True) if r is None], refusals


def _merged(refusals: Sequence[Exception | None], written: Sequence[Outcome]) -> list[Outcome]:
    answers = iter(written)
    return [next(answers) if r is None else r for r in refusals]


def submit_many(
    ledger: Ledger, items: Sequence[SubmitItem], *, now: datetime | None = None, gate: Gate | None = None
) -> list[Outcome]:
    """Record ``items`` in one transaction; answer each as a one-by-one submit in this order would.

    Args:
        ledger: the ledger (its event sink appends the audit entries and webhook deliveries).
        items: the submissions, each validated and pseudonymised by the caller.
        now: the batch's time (tests pin it); default the current instant.
        gate: checks run first inside the batch's transaction (the service authenticates its callers'
            tokens here); an item it refuses is answered with that exception and nothing is recorded for it.

    Returns:
        One outcome per item, in order: its :class:`SubmitResult`, or the error that item alone raised
        (:class:`InputError` for a malformed item, :class:`ConflictError` for a key of another request, a
        database error when even the item's own transaction failed). Nothing is raised for an item.
    """
    outcomes: list[Outcome | None] = [None] * len(items)
    valid: list[int] = []
    for index, item in enumerate(items):
        try:
            _check(item)
            valid.append(index)
        except DeletionSDKError as e:
            outcomes[index] = e
    batch = [items[i] for i in valid]
    written: list[Outcome] | None = None
    for _attempt in range(RACE_RETRIES if batch else 0):
        stamp = now or utcnow()
        try:
            with ledger.session() as session:
                admitted, refusals = _gated(session, gate, batch)
                written = _merged(refusals, _write(session, admitted, stamp) if admitted else [])
            break
        except sa.exc.IntegrityError:
            # Another process recorded one of these keys (or an open request of one of these people) between
            # our lookup and our insert. Nothing of this batch committed; the next attempt sees theirs.
            _log().info("request.batch_race", items=len(batch))
        except Exception as e:  # isolate the items: the fallback gives each its own error
            _log().warning("request.batch_failed", items=len(batch), error_type=type(e).__name__)
            break
    if written is None:
        written = _one_by_one(ledger, batch, now, gate)
    else:
        _logged(batch, written)
    for index, outcome in zip(valid, written, strict=True):
        outcomes[index] = outcome
    return [o if o is not None else InputError("the item was not answered") for o in outcomes]
