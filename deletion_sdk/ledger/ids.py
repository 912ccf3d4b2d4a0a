"""Unique-prefix lookup of request and job ids, so a person can type the first characters of an id.

An exact id always wins. Otherwise the prefix must match exactly one id; several matches are an error that
lists a few of them, and a prefix shorter than :data:`MIN_PREFIX` is refused (four characters of a UUID
are already ambiguous in any busy ledger, and a typo should not act on someone else's request).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from deletion_sdk.errors import InputError, NotFoundError
from deletion_sdk.ledger.core_tables import DeletionRequest
from deletion_sdk.ledger.job_tables import JobRow

__all__ = ["MIN_PREFIX", "resolve_id"]

MIN_PREFIX = 4
_SHOWN = 5
_KINDS = {"request": (DeletionRequest, "deletion request"), "job": (JobRow, "batch job")}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def resolve_id(session: Session, kind: Literal["request", "job"], id_or_prefix: str) -> str:
    """The full id of the ``kind`` whose id is ``id_or_prefix`` or starts with it.

    Args:
        session: an open ledger session.
        kind: ``"request"`` or ``"job"``.
        id_or_prefix: a full id, or at least :data:`MIN_PREFIX` of its first characters.

    Returns:
        The full id.

    Raises:
        NotFoundError: no id is or starts with it.
        InputError: the prefix is too short, or matches more than one id (the message lists some).
    """
    table, what = _KINDS[kind]
    text = id_or_prefix.strip().lower()
    if not text:
        raise InputError(f"The {what} id must not be empty.")
    id_column = col(table.id)  # type: ignore[attr-defined]
    if session.exec(select(id_column).where(id_column == text)).first() is not None:
        return text
    if len(text) < MIN_PREFIX:
        raise NotFoundError(
            f"no {what} with id {id_or_prefix!r} (a prefix must have at least {MIN_PREFIX} characters)"
        )
    query = (
        select(id_column)
        .where(func.lower(id_column).like(_escape_like(text) + "%", escape="\\"))
        .order_by(id_column)
        .limit(_SHOWN + 1)
    )
    matches = list(session.exec(query).all())
    if not matches:
        raise NotFoundError(f"no {what} with id or id prefix {id_or_prefix!r}")
    if len(matches) > 1:
        shown = ", ".join(matches[:_SHOWN]) + (", …" if len(matches) > _SHOWN else "")
        raise InputError(
            f"The {what} id prefix {id_or_prefix!r} matches more than one {what} ({shown}); "
            "give more characters."
        )
    return str(matches[0])
