"""``deletion-sdk redteam`` on a tiny real deployment: a no-op is not certified, and nothing changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deletion_sdk.sdk import DeletionSDK
from tests.integration.pipeline_workspace import MODEL, Workspace, copy

pytestmark = pytest.mark.slow


def _redteam(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "deletion_sdk.cli", "redteam", "--model", MODEL, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _ledger_rows(home: Path) -> dict[str, list[str]]:
    """Every row of every table of the SQLite ledger."""
    engine = sa.create_engine(f"sqlite:///{home / 'ledger.db'}")
    try:
        with engine.connect() as conn:
            tables = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all())) for t in tables}
    finally:
        engine.dispose()


def _files(home: Path) -> set[str]:
    """Every file under HOME but the ledger database's own (SQLite may touch its journal)."""
    return {
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not p.name.startswith("ledger.db")
    }


def _state(ws: Workspace) -> dict[str, Any]:
    with DeletionSDK.open() as sdk:
        return {
            "versions": [(m.model_version_id, m.status) for m in sdk.list_models(name=MODEL)],
            "requests": {
                rid: sdk.get_request(request_id=rid).status
                for rid in (*ws.request_ids, ws.no_data_request_id)
            },
            "jobs": len(sdk.list_jobs()),
            "audit_size": sdk.audit_log.size(),
        }


def test_redteam_noop_is_not_certified_and_changes_nothing(
    sqlite_template: Workspace, tmp_path: Path, env_for
) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(sqlite_template, tmp_path))
    before, rows_before, files_before = _state(ws), _ledger_rows(ws.home), _files(ws.home)
    assert set(before["requests"].values()) == {"verified"} and before["jobs"] == 0

    out = _redteam("--cheat", "noop_cheat", "--json")

    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [r["cheat"] for r in doc["rows"]] == ["noop_cheat"]
    (row,) = doc["rows"]
    assert row["outcome"] in ("failed", "inconclusive") and row["certified"] is False
    assert row["failed_checks"]
    assert doc["certified_any"] is False
    assert doc["policy_id"] == "fast-test" and doc["model"] == MODEL
    assert doc["n_requests"] == len(ws.request_ids) + 1  # the no-data request is due too
    assert doc["n_forget"] > 0 and doc["n_holdout"] > 0
    for subject in ws.raw_subjects:
        assert subject not in out.stdout and subject not in out.stderr
    # read-only: same versions, request statuses, no job, no audit entry, no new file under HOME
    assert _state(ws) == before
    assert _ledger_rows(ws.home) == rows_before
    assert _files(ws.home) == files_before


def test_redteam_bad_input_exits_2_with_one_line(sqlite_template: Workspace, tmp_path: Path, env_for) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(sqlite_template, tmp_path))

    unknown = _redteam("--cheat", "no_such_cheat")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith("error: ") and unknown.stderr.count("\n") == 1
    assert "no_such_cheat" in unknown.stderr and "noop_cheat" in unknown.stderr  # lists the cheats

    with DeletionSDK.open() as sdk:  # nothing due any more
        for rid in (*ws.request_ids, ws.no_data_request_id):
            sdk.cancel_request(request_id=rid, reason="withdrawn")
    nothing_due = _redteam("--cheat", "noop_cheat")
    assert nothing_due.returncode == 2 and nothing_due.stdout == ""
    assert nothing_due.stderr.startswith("error: no verified request is due")
    assert nothing_due.stderr.count("\n") == 1


def test_redteam_refuses_data_that_is_not_the_model_training_set(
    sqlite_template: Workspace, tmp_path: Path, env_for
) -> None:  # type: ignore[no-untyped-def]
    ws = env_for(copy(sqlite_template, tmp_path))
    engine = sa.create_engine(f"sqlite:///{ws.home / 'ledger.db'}")
    try:
        with engine.begin() as conn:  # the model now claims another training set than the ledger's
            conn.execute(sa.text("UPDATE model_versions SET training_root = :root"), {"root": "0" * 64})
    finally:
        engine.dispose()

    out = _redteam("--cheat", "noop_cheat", "--json")

    assert out.returncode == 1 and out.stdout == ""  # not a verdict: no report on stdout
    error = json.loads(out.stderr)["error"]  # --json: the error is one JSON object on stderr
    assert error["exit_code"] == 1 and "training_root" in error["message"]
