from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import structlog

from tests.cli_run import run_in_home as run
from tests.unit.cli._errors import json_error


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()  # the CLI configures structlog on the (captured) stderr of this test


def snapshot(home: Path) -> dict[str, list[Any]]:
    engine = sa.create_engine(f"sqlite:///{home / 'ledger.db'}")
    try:
        with engine.connect() as conn:
            tables = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all())) for t in tables}
    finally:
        engine.dispose()


def test_init_creates_home_and_is_repeatable(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, _ = run(capsys, home, "init", "--json")
    first = json.loads(out)
    assert code == 0 and first["subject_key_created"] and first["revision"]
    assert (home / "subject.key").exists() and (home / "ledger.db").exists()
    code, out, _ = run(capsys, home, "init", "--json")
    again = json.loads(out)
    assert not again["subject_key_created"]
    assert again["subject_key_fingerprint"] == first["subject_key_fingerprint"]
    assert again["revision_before"] == again["revision"] == first["revision"]
    code, out, _ = run(capsys, home, "db", "upgrade", "--json")
    assert code == 0 and json.loads(out)["revision"] == first["revision"]


def test_db_upgrade_without_init_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    code, out, err = run(capsys, home, "db", "upgrade")
    assert (code, out) == (2, "")
    assert err.startswith("error: no ledger database") and len(err.splitlines()) == 1


def test_submit_show_and_lifecycle_commands(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    args = ["requests", "submit", "--subject", "alice@example.com", "--policy", "gdpr-art17"]
    code, out, err = run(capsys, home, *args, "--received-at", "2024-01-31T10:00:00Z", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {"request_id", "status", "received_at", "due_at", "policy", "subject_ref"} <= set(doc)
    assert (doc["status"], doc["policy"], doc["created"]) == ("received", "gdpr-art17", True)
    assert doc["due_at"] == "2024-02-29T10:00:00Z"
    assert "alice" not in out
    rid = doc["request_id"]
    code, out, _ = run(capsys, home, *args, "--json")
    assert json.loads(out)["duplicate_of_open"] and json.loads(out)["request_id"] == rid
    code, out, _ = run(capsys, home, "requests", "overdue", "--json")
    assert [r["request_id"] for r in json.loads(out)] == [rid]
    code, out, err = run(capsys, home, "requests", "extend", rid, "--reason", "complex", "--json")
    assert code == 1 and "deadline passes" in json_error(err)["message"]  # due in 2024: too late
    code, out, _ = run(capsys, home, "requests", "verify", rid, "--json")
    assert json.loads(out)["status"] == "verified"
    code, out, _ = run(capsys, home, "requests", "deny", rid, "--reason", "legal hold", "--json")
    assert json.loads(out)["status"] == "denied"
    code, out, err = run(capsys, home, "requests", "cancel", rid)
    assert code == 1 and "cannot go from 'denied' to 'cancelled'" in err
    code, out, _ = run(capsys, home, "requests", "show", rid, "--json")
    shown = json.loads(out)
    assert [h["to_status"] for h in shown["history"]] == ["received", "verified", "denied"]
    assert shown["outcome_reason"] == "legal hold"
    code, out, _ = run(capsys, home, "requests", "list", "--status", "denied", "--json")
    assert [r["request_id"] for r in json.loads(out)] == [rid]
    code, out, _ = run(capsys, home, "requests", "list")
    assert code == 0 and "1 request\n" in out
    code, out, err = run(capsys, home, "requests", "show", "no-such-id")
    assert code == 2 and err == "error: no deletion request with id or id prefix 'no-such-id'\n"


def test_extend_and_cancel_a_fresh_request(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, _ = run(
        capsys, home, "requests", "submit", "--subject", "b@example.com", "--policy", "ccpa", "--json"
    )
    rid = json.loads(out)["request_id"]
    code, out, _ = run(capsys, home, "requests", "extend", rid, "--reason", "volume", "--json")
    assert code == 0 and json.loads(out)["extensions"] == 1
    code, out, _ = run(capsys, home, "requests", "cancel", rid, "--reason", "withdrawn", "--json")
    assert json.loads(out)["status"] == "cancelled"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policy", "hipaa"], "Unknown policy 'hipaa'"),
        (
            ["--policy", "ccpa", "--received-at", "2024-02-30"],
            "The 'received_at' parameter must be an ISO 8601",
        ),
        (["--policy", "ccpa", "--received-at", "yesterday"], "'yesterday'"),
    ],
)
def test_bad_submit_input_exits_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], home: Path, extra: list[str], message: str
) -> None:
    run(capsys, home, "init")
    before = snapshot(home)
    code, out, err = run(capsys, home, "requests", "submit", "--subject", "x@example.com", *extra, "--json")
    assert (code, out) == (2, "")
    assert message in json_error(err)["message"] and "Traceback" not in err
    assert snapshot(home) == before


def test_import_reports_bad_rows_and_is_idempotent(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "subject,policy,received_at\na@example.com,ccpa,2024-05-01\nb@example.com,nope,\nc@example.com,ccpa,x\n"
    )
    code, out, _ = run(capsys, home, "requests", "import", str(path), "--json")
    report = json.loads(out)
    assert code == 1  # some rows were rejected
    assert report["created"] == 1
    assert [(e["line"], e["reason"][:14]) for e in report["errors"]] == [
        (3, "Unknown policy"),
        (4, "The 'received_"),
    ]
    before = snapshot(home)
    code, out, _ = run(capsys, home, "requests", "import", str(path), "--json")
    assert json.loads(out)["created"] == 0 and json.loads(out)["existing"] == 1
    assert snapshot(home) == before
    code, out, err = run(capsys, home, "requests", "import", str(tmp_path / "absent.csv"))
    assert code == 2 and err.startswith("error: import file not found")


def test_sample_requests_import_cleanly(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    sample = Path(__file__).resolve().parents[3] / "examples" / "data" / "requests_sample.csv"
    code, out, _ = run(capsys, home, "requests", "import", str(sample), "--json")
    report = json.loads(out)
    assert code == 0 and report["errors"] == [] and report["created"] == report["rows"] >= 20


def test_console_script_submit_json_is_one_document(home: Path) -> None:
    env = {**os.environ, "DELETION_SDK_HOME": str(home)}
    cmd = [sys.executable, "-m", "deletion_sdk.cli", "requests", "submit", "--subject", "zed@example.com"]
    out = subprocess.run(
        [*cmd, "--policy", "ccpa", "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["policy"] == "ccpa" and len(doc["subject_ref"]) == 64
    assert "zed@example.com" not in out.stdout + out.stderr
