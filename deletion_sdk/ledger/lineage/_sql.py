"""Dialect-specific bulk writes of examples, and chunking of long bound-parameter lists.

PostgreSQL: ``COPY … FROM STDIN`` through psycopg 3, then ``ANALYZE`` so the planner sees the new rows.
SQLite: one driver ``executemany`` per chunk (no per-row SQLAlchemy type processing is needed: every
column is a plain string or float). The generic version for any table is :mod:`deletion_sdk.ledger._bulk`;
this one writes tuples straight from :class:`ExampleInput` rows, tens of thousands at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.ledger._bulk import copy_errors_as_sqlalchemy
from deletion_sdk.ledger.lineage.manifest import ExampleInput

__all__ = ["chunks", "insert_examples"]

_INSERT_CHUNK = 20_000
_COLUMNS = "dataset_id, example_id, subject_ref, content_digest, path, age, split"
_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_examples(session: Session, dataset_id: int, rows: Sequence[ExampleInput], *, sqlite: bool) -> None:
    """Insert the dataset's examples in bulk (the fast path for each dialect).

    Args:
        session: the registering transaction.
        dataset_id: the dataset the examples belong to.
        rows: validated examples.
        sqlite: True on SQLite, False on PostgreSQL.
    """
    if sqlite:
        _insert_sqlite(session, dataset_id, rows)
    else:
        _copy_postgres(session, dataset_id, rows)
        session.execute(sa.text("ANALYZE examples"))  # fresh statistics for the planner after a bulk load


def _copy_postgres(session: Session, dataset_id: int, rows: Sequence[ExampleInput]) -> None:
    dbapi: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    copy_sql = f"COPY examples ({_COLUMNS}) FROM STDIN"
    with copy_errors_as_sqlalchemy(copy_sql), dbapi.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for r in rows:
            copy.write_row(
                (dataset_id, r.example_id, r.subject_ref, r.content_digest, r.path, float(r.age), r.split)
            )


def _insert_sqlite(session: Session, dataset_id: int, rows: Sequence[ExampleInput]) -> None:
    connection = session.connection()
    sql = f"INSERT INTO examples ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    for part in chunks(rows, _INSERT_CHUNK):
        connection.exec_driver_sql(
            sql,
            [
                (dataset_id, r.example_id, r.subject_ref, r.content_digest, r.path, float(r.age), r.split)
                for r in part
            ],
        )
