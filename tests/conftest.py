"""Shared fixtures: isolated SDK homes, real SQLite files and real PostgreSQL databases.

PostgreSQL: when ``DELETION_SDK_TEST_POSTGRES_URL`` is unset, ``postgres`` tests are skipped and the run
ends with a warning that counts them (``scripts/ensure-postgres.sh``, which ``make test`` runs, sets the
URL when it can find or start a local server, and says why in ``DELETION_SDK_TEST_POSTGRES_SKIP_REASON``
when it cannot); when it is set and the server is unreachable they fail (a CI that meant to test
PostgreSQL must not go green without it). Each test gets a fresh database created on that server and
dropped afterwards. A test that asks for ``postgres_url`` must carry the ``postgres`` marker (checked at
collection), so ``-m postgres`` selects every test that talks to the server.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from queue import Empty
from typing import Any

import pytest

POSTGRES_ENV = "DELETION_SDK_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON_ENV = "DELETION_SDK_TEST_POSTGRES_SKIP_REASON"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="no CUDA device on this machine")
    unmarked = [
        item.nodeid
        for item in items
        if "postgres_url" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that use the 'postgres_url' fixture must be marked @pytest.mark.postgres: "
            + ", ".join(unmarked)
        )
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say loudly how many PostgreSQL tests did not run, and why (``-ra`` alone is easy to miss)."""
    if os.environ.get(POSTGRES_ENV):
        return
    reports = terminalreporter.stats.get("skipped", [])
    skipped = [r for r in reports if "postgres" in getattr(r, "keywords", {})]  # collection skips have none
    if not skipped:
        return
    why = os.environ.get(POSTGRES_SKIP_REASON_ENV) or "no PostgreSQL server was looked for"
    terminalreporter.write_line(
        f"WARNING: {len(skipped)} PostgreSQL tests were SKIPPED: {POSTGRES_ENV} is not set ({why}). "
        "Run ./.ci/run, or set it to a server where the user may create databases.",
        yellow=True,
        bold=True,
    )


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


def _run_together(target: Callable[..., None], args: Sequence[tuple[Any, ...]]) -> list[Any]:
    processes = len(args)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, results), daemon=True) for a in args]
    for p in procs:
        p.start()
    out: list[Any] = []
    try:
        while len(out) < processes:
            try:
                out.append(results.get(timeout=1.0))  # a poll interval, not a deadline
                continue
            except Empty:
                pass
            if sum(p.exitcode is not None for p in procs) > len(out):
                # What an exited process put is already in the pipe (its feeder thread flushed at exit).
                try:
                    out.append(results.get(timeout=1.0))
                    continue
                except Empty:
                    barrier.abort()
                    pytest.fail(f"a process died without reporting: exit codes {[p.exitcode for p in procs]}")
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    return out


@pytest.fixture
def run_together() -> Callable[..., list[Any]]:
    """``run_together(target, args)``: ``target(*a, barrier, results)`` for each ``a``, each in a new process.

    The processes share one ``multiprocessing`` barrier (to start their work together) and one queue.
    Each must put exactly one item on ``results`` (its result, or the repr of what it raised) and call
    ``barrier.abort()`` when it fails, so its partners stop waiting. Returns the items, in arrival order.
    A process that dies without reporting fails the test at once. There is no deadline: how long the
    processes take never decides the outcome; pytest-timeout is the hang guard.
    """
    return _run_together
