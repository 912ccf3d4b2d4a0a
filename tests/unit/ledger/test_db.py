from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from deletion_sdk.errors import ConfigurationError
from deletion_sdk.ledger.core_tables import Subject
from deletion_sdk.ledger.db import Ledger, normalise_database_url
from deletion_sdk.ledger.tables import metadata


def test_migrated_schema_matches_the_sqlmodel_metadata(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []
    assert ledger.current_revision() == ledger.head_revision()
    inspector = sa.inspect(ledger.engine)
    assert set(metadata.tables) <= set(inspector.get_table_names())


def test_upgrade_twice_is_a_no_op(ledger: Ledger) -> None:
    head = ledger.head_revision()
    assert ledger.upgrade() == (head, head)


def test_session_rolls_back_on_error(ledger: Ledger) -> None:
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError), ledger.session() as session:
        session.add(Subject(subject_ref="a" * 64, first_seen_at=now))
        session.flush()
        raise RuntimeError("boom")
    with ledger.session(write=False) as session:
        assert session.get(Subject, "a" * 64) is None


def test_timestamps_round_trip_as_aware_utc(ledger: Ledger) -> None:
    cet = timezone(timedelta(hours=1))
    moment = datetime(2024, 1, 31, 23, 30, 15, 123456, tzinfo=cet)
    with ledger.session() as session:
        session.add(Subject(subject_ref="b" * 64, first_seen_at=moment))
    with ledger.session(write=False) as session:
        row = session.get(Subject, "b" * 64)
        assert row is not None
        stored = row.first_seen_at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == moment
    assert stored.hour == 22


def test_naive_timestamps_are_refused(ledger: Ledger) -> None:
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), ledger.session() as session:
        session.add(Subject(subject_ref="c" * 64, first_seen_at=datetime(2024, 1, 1)))
        session.flush()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(sa.exc.IntegrityError), ledger.session() as session:
            session.execute(
                sa.text(
                    "INSERT INTO examples (dataset_id, example_id, subject_ref, content_digest, age, split) "
                    "VALUES (99, 'x', :ref, :ref, 1.0, 'train')"
                ),
                {"ref": "d" * 64},
            )
    finally:
        ledger.dispose()


def test_missing_sqlite_file_without_create_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="deletion-sdk init"):
        Ledger.open(f"sqlite:///{tmp_path / 'absent.db'}")
    assert not (tmp_path / "absent.db").exists()


def test_unreachable_server_and_bad_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="cannot connect"):
        Ledger.open("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError, match="SQLite or PostgreSQL"):
        Ledger.open("mysql://x@localhost/db")
    with pytest.raises(ConfigurationError, match="in-memory"):
        Ledger.open("sqlite://")
    assert normalise_database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
