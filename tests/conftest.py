"""Shared fixtures: isolated SDK homes, real SQLite files and real PostgreSQL databases.

PostgreSQL: when ``DELETION_SDK_TEST_POSTGRES_URL`` is unset, ``postgres`` tests are skipped; when it is
set and the server is unreachable they fail (a CI that meant to test PostgreSQL must not go green without it).
Each test gets a fresh database created on that server and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ENV = "DELETION_SDK_TEST_POSTGRES_URL"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="no CUDA device on this machine")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DELETION_SDK_* setting of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("DELETION_SDK_") and key != POSTGRES_ENV:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DELETION_SDK_HOME", str(tmp_path / "home"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The SDK home of this test (also exported as DELETION_SDK_HOME)."""
    return tmp_path / "home"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


def _swap_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the test server; dropped afterwards."""
    import sqlalchemy as sa

    admin = _admin_url()
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            name = f"dsdk_{uuid.uuid4().hex[:16]}"
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as e:  # set but unreachable: fail, never skip
        pytest.fail(f"{POSTGRES_ENV} is set but the server is unreachable: {e}")
    try:
        yield _swap_database(admin, name)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs twice: on a real SQLite file and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))
