"""Bulk writes: one statement (or one COPY) per thousands of rows instead of one per row.

On PostgreSQL psycopg executes an ``executemany`` as one statement per row (pipelined), which the server
still plans and executes row by row; ``COPY`` and array ``unnest`` inserts avoid that. On SQLite
``executemany`` through the driver is already fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.ledger._types import UTCDateTime, table_of
from deletion_sdk.ledger.core_tables import Subject
from deletion_sdk.ledger.db import insert_ignore

__all__ = ["bulk_insert", "copy_errors_as_sqlalchemy", "ensure_subjects"]

_PG_SUBJECTS = sa.text(
    "INSERT INTO subjects (subject_ref, first_seen_at) "
    "SELECT unnest(CAST(:refs AS varchar[])), :now ON CONFLICT (subject_ref) DO NOTHING"
).bindparams(sa.bindparam("now", type_=UTCDateTime()))


@contextlib.contextmanager
def copy_errors_as_sqlalchemy(statement: str) -> Iterator[None]:
    """Raise psycopg errors from a raw COPY as SQLAlchemy's (callers catch ``sa.exc.IntegrityError``)."""
    import psycopg

    try:
        yield
    except psycopg.IntegrityError as e:
        raise sa.exc.IntegrityError(statement, None, e) from e
    except psycopg.Error as e:
        raise sa.exc.DBAPIError(statement, None, e) from e


def ensure_subjects(session: Session, refs: Iterable[str], *, now: datetime) -> None:
    """Record these subject references (existing ones are left as they are)."""
    unique = sorted(set(refs))
    if not unique:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_PG_SUBJECTS, {"refs": unique, "now": now})
        return

    for start in range(0, len(unique), 20_000):
        part = unique[start : start + 20_000]
        insert_ignore(
            session,
            table_of(Subject),
            [{"subject_ref": r, "first_seen_at": now} for r in part],
            key="subject_ref",
        )


def bulk_insert(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``; values go through the columns' types.

    PostgreSQL: ``COPY … FROM STDIN`` (psycopg 3). SQLite: one driver ``executemany``. Both skip SQLAlchemy's
    per-row parameter handling but apply each column type's bind processor (e.g. UTC timestamps).
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
    memo: dict[tuple[int, Any], Any] = {}  # e.g. one "now" shared by thousands of rows is converted once

    def convert(index: int, value: Any) -> Any:
        proc = processors[index]
        if proc is None or value is None:
            return value
        if not isinstance(value, datetime):
            return proc(value)
        cache_key = (index, value)
        if cache_key not in memo:
            memo[cache_key] = proc(value)
        return memo[cache_key]

    values = [[convert(i, row[name]) for i, name in enumerate(columns)] for row in rows]
    quoted = ", ".join(f'"{name}"' for name in columns)
    if dialect.name != "postgresql":
        placeholders = ", ".join("?" for _ in columns)
        session.connection().exec_driver_sql(
            f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', [tuple(v) for v in values]
        )
        return
    dbapi: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    with copy_errors_as_sqlalchemy(statement), dbapi.cursor() as cursor, cursor.copy(statement) as copy:
        for row_values in values:
            copy.write_row(row_values)
