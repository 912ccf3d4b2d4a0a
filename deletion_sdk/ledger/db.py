"""Engines, transactions and migrations of the ledger.

:class:`Ledger` owns one SQLAlchemy engine. ``ledger.session()`` is one transaction: it commits when the
block ends normally and rolls back when it raises. On SQLite the file runs in WAL mode with foreign keys on
and a busy timeout, and write sessions start with ``BEGIN IMMEDIATE`` so that concurrent writers queue for the
lock instead of failing with ``SQLITE_BUSY_SNAPSHOT`` half-way through a read-then-write transaction. On
PostgreSQL (psycopg 3) sessions are plain ``READ COMMITTED`` transactions; row claims use
``SELECT … FOR UPDATE SKIP LOCKED`` where they are needed.

Migrations are Alembic scripts shipped inside the package (``deletion_sdk/ledger/migrations``);
:meth:`Ledger.upgrade` runs them programmatically, no ``alembic.ini`` needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlmodel import Session

from deletion_sdk.errors import ConfigurationError
from deletion_sdk.ledger.events import SINK_KEY, EventSink
from deletion_sdk.ledger.tables import metadata
from deletion_sdk.logging import get_logger

__all__ = ["MIGRATIONS_DIR", "Ledger", "insert_ignore", "normalise_database_url"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 60_000
SQLITE_CACHE_KIB = 65_536
_MIGRATION_LOCK_KEY = 0x64656C5F73646B  # pg_advisory_xact_lock key shared by every migrating process


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


def normalise_database_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://`` / ``postgres://`` URLs get the psycopg 3 driver.

    Raises:
        ConfigurationError: the URL cannot be parsed or names an unsupported backend.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as e:
        raise ConfigurationError(
            f"The 'database_url' setting must be an SQLAlchemy URL (sqlite:///… or postgresql://…). "
            f"Got {url!r} instead."
        ) from e
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"The 'database_url' setting must name SQLite or PostgreSQL. Got backend "
            f"{parsed.get_backend_name()!r} instead."
        )
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN (the pysqlite driver's own implicit BEGIN would
        # defeat BEGIN IMMEDIATE and make DDL non-transactional).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=FULL")
            # 64 MiB page cache (default 2 MiB): bulk inserts into the examples' subject index stay in memory.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute("PRAGMA temp_store=MEMORY")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("ledger_sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Ledger:
    """The SQL ledger: one engine, transactions, migrations.

    Args:
        engine: a configured engine (use :meth:`open`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Receives every change event inside the changing transaction (see ledger.events); the SDK
        # installs the audit log here.
        self.event_sink: EventSink | None = None
        self._write_engine = (
            engine.execution_options(ledger_sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        )

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> Ledger:
        """Connect to the ledger at ``url``.

        Args:
            url: SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://…``).
            create: create the SQLite file's directory when missing and migrate the schema to the newest
                revision. Without it a missing SQLite file is an error.

        Returns:
            The ledger.

        Raises:
            ConfigurationError: bad URL, missing SQLite file without ``create``, or an unreachable server.
        """
        parsed = normalise_database_url(url)
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database
            if not db or db == ":memory:":
                raise ConfigurationError(
                    "The 'database_url' setting must name an SQLite file (sqlite:///path/ledger.db); an "
                    "in-memory database cannot be shared between connections. Got "
                    f"{parsed.render_as_string()!r} instead."
                )
            path = Path(db)
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                raise ConfigurationError(f"no ledger database at {path}; run `deletion-sdk init` first")
            engine = _sqlite_engine(parsed)
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
        ledger = cls(engine)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.OperationalError as e:
            engine.dispose()
            raise ConfigurationError(
                f"cannot connect to the ledger at {parsed.render_as_string()}: {str(e.orig).strip()}"
            ) from e
        if create:
            ledger.upgrade()
        return ledger

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: commit on normal exit, roll back on error.

        Args:
            write: on SQLite take the write lock at BEGIN (``BEGIN IMMEDIATE``); read-only callers pass False.

        Yields:
            A SQLModel session bound to the transaction (objects stay usable after commit).
        """
        with Session(self._write_engine if write else self.engine, expire_on_commit=False) as session:
            if self.event_sink is not None:
                session.info[SINK_KEY] = self.event_sink
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # -- migrations -------------------------------------------------------------------------------

    def _alembic_config(self, connection: Connection) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        return config

    def head_revision(self) -> str | None:
        """The newest migration revision shipped with this package."""
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            return ScriptDirectory.from_config(self._alembic_config(conn)).get_current_head()

    def current_revision(self) -> str | None:
        """The revision the database is at (None for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Migrate the schema to ``revision`` in one transaction (serialised between processes).

        Returns:
            (revision before, revision after).
        """
        from alembic import command

        before = self.current_revision()
        with self._write_engine.connect() as conn, conn.begin():
            if not self.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            command.upgrade(self._alembic_config(conn), revision)
        after = self.current_revision()
        if before != after:
            _log().info("ledger.migrated", url=self.url, from_revision=before, to_revision=after)
        return before, after

    def table_names(self) -> Sequence[str]:
        """Tables declared by the package (the migrated schema must match them)."""
        return sorted(metadata.tables)


def insert_ignore(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], *, key: str) -> None:
    """Bulk insert ``rows`` into ``table``, skipping rows whose ``key`` column already exists.

    Uses ``INSERT … ON CONFLICT (key) DO NOTHING`` on both backends.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=[key])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])
    session.execute(stmt, list(rows))
