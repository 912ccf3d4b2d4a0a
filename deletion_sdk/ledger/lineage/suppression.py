"""The suppression list: subjects already erased, whose data must never be registered again.

:func:`register_examples` refuses a dataset holding any suppressed subject's example with
:class:`~deletion_sdk.errors.SuppressedSubjectError` (see :func:`suppressed_examples`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from deletion_sdk.errors import InputError, NotFoundError
from deletion_sdk.ledger._bulk import ensure_subjects
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.core_tables import DeletionRequest, Suppression
from deletion_sdk.ledger.events import emit, text_digest
from deletion_sdk.ledger.lineage.manifest import ExampleInput
from deletion_sdk.ledger.records import SuppressionRecord
from deletion_sdk.ledger.subjects import validate_subject_ref
from deletion_sdk.logging import get_logger

__all__ = ["is_suppressed", "list_suppressions", "suppress", "suppressed_examples"]


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


def _suppression_record(row: Suppression) -> SuppressionRecord:
    return SuppressionRecord(
        subject_ref=row.subject_ref,
        request_id=row.request_id,
        suppressed_at=row.suppressed_at,
        reason=row.reason,
    )


def suppress(
    session: Session,
    *,
    subject_ref: str,
    reason: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> SuppressionRecord:
    """Put a subject on the suppression list (idempotent: an existing entry is returned unchanged).

    Raises:
        InputError: malformed subject ref or empty reason.
        NotFoundError: ``request_id`` names no request.
    """
    validate_subject_ref(subject_ref)
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(
            "The 'reason' parameter must be a non-empty explanation. Got an empty reason instead."
        )
    existing = session.get(Suppression, subject_ref)
    if existing is not None:
        return _suppression_record(existing)
    if request_id is not None and session.get(DeletionRequest, request_id) is None:
        raise NotFoundError(f"no deletion request with id {request_id!r}")
    stamp = now or utcnow()
    ensure_subjects(session, [subject_ref], now=stamp)
    row = Suppression(
        subject_ref=subject_ref, request_id=request_id, suppressed_at=stamp, reason=reason.strip()
    )
    session.add(row)
    session.flush()
    emit(
        session,
        "subject.suppressed",
        {"subject_ref": subject_ref, "request_id": request_id, "reason_sha256": text_digest(reason.strip())},
        actor="ledger",
    )
    _log().info("subject.suppressed", subject_ref=subject_ref, request_id=request_id)
    return _suppression_record(row)


def is_suppressed(session: Session, subject_ref: str) -> bool:
    """Whether the subject is on the suppression list."""
    return session.get(Suppression, validate_subject_ref(subject_ref)) is not None


def list_suppressions(session: Session) -> tuple[SuppressionRecord, ...]:
    """The whole suppression list, oldest first."""
    rows = session.exec(
        select(Suppression).order_by(col(Suppression.suppressed_at), col(Suppression.subject_ref))
    ).all()
    return tuple(_suppression_record(r) for r in rows)


def suppressed_examples(session: Session, rows: Sequence[ExampleInput]) -> list[ExampleInput]:
    """The examples among ``rows`` whose subject is on the suppression list, in their given order."""
    suppressed = set(session.exec(select(Suppression.subject_ref)).all())
    if not suppressed:
        return []
    return [r for r in rows if r.subject_ref in suppressed]
