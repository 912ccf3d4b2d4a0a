"""Column types and conventions shared by every ledger table.

* :class:`UTCDateTime` stores instants as UTC and always returns timezone-aware UTC datetimes, on SQLite
  (which has no time-zone type: the value is stored as naive UTC text) and on PostgreSQL
  (``timestamp with time zone``). Naive datetimes are refused: the ledger never guesses a time zone.
* :data:`NAMING_CONVENTION` gives every index and constraint a deterministic name, so Alembic
  migrations written by hand and the SQLModel metadata agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import SQLModel

from deletion_sdk.errors import InputError

__all__ = ["NAMING_CONVENTION", "UTCDateTime", "metadata", "parse_instant", "table_of", "utcnow"]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The single metadata every ledger table (ours, the audit log's, the jobs') is declared on.
metadata: sa.MetaData = SQLModel.metadata
metadata.naming_convention = NAMING_CONVENTION


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core ``Table`` of a SQLModel table class (for bulk inserts and joins)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


FUTURE_TOLERANCE = timedelta(minutes=5)


def parse_instant(
    value: str | datetime, *, parameter: str, now: datetime | None = None, allow_future: bool = False
) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime.

    A date alone means midnight UTC; a date-time without offset is taken as UTC.

    Args:
        value: text such as ``2024-01-31``, ``2024-01-31T09:30:00Z`` or ``2024-01-31T10:30+01:00``, or a
            datetime.
        parameter: the parameter name used in error messages.
        now: the current time (for the future check).
        allow_future: accept instants more than five minutes after ``now``.

    Raises:
        InputError: not a date, or in the future when that is not allowed.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as e:
            raise InputError(
                f"The '{parameter}' parameter must be an ISO 8601 date or date-time such as 2024-01-31 or "
                f"2024-01-31T09:30:00Z. Got {value!r} instead."
            ) from e
    else:
        raise InputError(
            f"The '{parameter}' parameter must be an ISO 8601 string or a datetime. "
            f"Got {type(value).__name__} instead."
        )
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as e:  # 9999-12-31T23:00-05:00 is past the last representable UTC instant
        raise InputError(f"The '{parameter}' parameter is outside the representable range in UTC.") from e
    reference = now or utcnow()
    if not allow_future and moment > reference + FUTURE_TOLERANCE:
        raise InputError(
            f"The '{parameter}' parameter must not be in the future. Got {moment.isoformat()} instead "
            f"(now is {reference.isoformat()})."
        )
    return moment


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend (see the module docstring)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime columns take datetime values. Got {type(value).__name__} instead.")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"UTCDateTime columns take timezone-aware datetimes. Got naive {value!r} instead."
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL over SQLite may hand back text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
