"""Hostile input at the command line: one ``error:`` line, exit 2, nothing recorded (Found 4 and 8)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from tests.cli_run import run_in_home as run
from tests.unit.cli._errors import json_error


def snapshot(home: Path) -> dict[str, list[str]]:
    engine = sa.create_engine(f"sqlite:///{home / 'ledger.db'}")
    try:
        with engine.connect() as conn:
            names = [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{t}"').all())) for t in names}
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--subject", "\udcff", "--policy", "ccpa"], "valid UTF-8"),  # invalid UTF-8 in argv
        (["--subject", "a@example.com", "--policy", "ccpa\udcff"], "valid UTF-8"),
        (
            ["--subject", "a@example.com", "--policy", "ccpa", "--received-at", "9999-12-31T23:00:00-05:00"],
            "range",
        ),
        (["--subject", "a@example.com", "--policy", "ccpa", "--received-at", "0001-01-01"], "1970"),
        (["--subject", "a@example.com", "--policy", "ccpa", "--idempotency-key", "k" * 201], "at most 200"),
    ],
)
def test_submit_refuses_hostile_input(
    capsys: pytest.CaptureFixture[str], home: Path, extra: list[str], message: str
) -> None:
    run(capsys, home, "init")
    before = snapshot(home)
    code, out, err = run(capsys, home, "requests", "submit", *extra, "--json")
    assert (code, out) == (2, "")
    assert message in json_error(err)["message"]
    assert snapshot(home) == before


def test_import_lands_good_rows_past_a_bad_one(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    run(capsys, home, "init")
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"subject": "\\ud800", "policy": "ccpa"}\n'
        + json.dumps(
            {"subject": "b@example.com", "policy": "ccpa", "received_at": "9999-12-31T23:00:00-05:00"}
        )
        + "\n"
        + json.dumps({"subject": "c@example.com", "policy": "ccpa"})
        + "\n"
    )
    code, out, err = run(capsys, home, "requests", "import", str(path), "--json")
    report = json.loads(out)
    assert code == 1 and "Traceback" not in err
    assert report["created"] == 1 and [e["line"] for e in report["errors"]] == [1, 2]


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON decoder's recursion limit
        b'{"payload": "' + base64.b64encode(b"[" * 5000 + b"]" * 5000) + b'"}',
        b"not json",
        b"\xff\xfe",
        b"[]",
    ],
    ids=["deep", "deep-payload", "not-json", "not-utf8", "not-object"],
)
def test_a_malformed_certificate_is_bad_input(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path, content: bytes
) -> None:
    """Found 8: a deeply nested or non-JSON certificate is one error line and exit 2 (not 1, no trace)."""
    run(capsys, home, "keys", "generate")
    pub = next(home.rglob("signing.pub"))
    cert = tmp_path / "x.intoto.json"
    cert.write_bytes(content)
    for args in (["verify", str(cert), "--key", str(pub)], ["show", str(cert)]):
        code, out, err = run(capsys, home, "certificate", *args)
        assert code == 2 and out == "" and err.startswith("error: ") and len(err.splitlines()) == 1


def test_a_deeply_nested_policy_is_bad_input(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    """Found 8: a policy nested deeper than the YAML composer can recurse is one error line, exit 2."""
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    code, out, err = run(capsys, home, "policies", "check", str(path))
    assert (code, out) == (2, "") and err == f"error: {path}:1: nested deeper than 16 levels\n"


@pytest.mark.parametrize(
    "args",
    [
        ["requests", "show", "\udcff"],
        ["requests", "list", "--policy", "\udcff"],
        ["requests", "verify", "r\udcff"],
    ],
)
def test_invalid_utf8_anywhere_in_argv_is_one_error_line(
    capsys: pytest.CaptureFixture[str], home: Path, args: list[str]
) -> None:
    """Found 4: what Python decodes invalid UTF-8 in argv to (lone surrogates) is bad input, exit 2."""
    run(capsys, home, "init")
    code, out, err = run(capsys, home, *args)
    assert (code, out) == (2, "") and err.startswith("error: ") and len(err.splitlines()) == 1
    assert "UTF-8" in err and "Traceback" not in err
