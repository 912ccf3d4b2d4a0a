"""Fuzzing request intake: CSV and JSONL import and ``requests submit`` never crash, and never half-write.

Examples per test (pinned): CSV import 60, JSONL import 60, import CLI 15, submit CLI 25.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from deletion_sdk.errors import ManifestError
from deletion_sdk.ledger import intake
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.subjects import SubjectKey
from deletion_sdk.policy import load_policy
from tests.unit.fuzz._cli import assert_clean_failure, fuzz, run_cli

NOW = datetime(2024, 6, 1, tzinfo=UTC)
KEY = SubjectKey(bytes(range(32)))

# Field values: plausible ones, hostile ones (lone surrogates, controls, huge, out-of-range dates), anything.
_anything = st.text(st.characters(codec=None, categories=None), max_size=40)  # includes lone surrogates
fields = st.one_of(
    st.sampled_from(
        [
            "a@example.com",
            "gdpr-art17",
            "ccpa",
            "2024-01-01",
            "9999-12-31T23:00:00-05:00",
            "0001-01-01",
            "2999-01-01",
            "\ufeff",
            "\ud800",
            "x\x00y",
            "k" * 201,
            "s" * 1100,
            '"',
            "",
        ]
    ),
    _anything,
)
rows = st.lists(st.fixed_dictionaries({c: fields for c in intake.IMPORT_COLUMNS}), max_size=6)


def _count(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("deletion_requests", "request_history", "subjects")
        }


def _check_import(ledger: Ledger, path: Path) -> None:
    before = _count(ledger)
    try:
        report = intake.import_requests(ledger, path=path, subject_key=KEY, load_policy=load_policy, now=NOW)
    except ManifestError as e:
        assert "\n" not in str(e).strip()
        assert _count(ledger) == before  # a rejected file writes nothing
        return
    assert report.created + report.existing + report.duplicate_of_open == len(report.request_ids)
    assert len(report.request_ids) + len(report.errors) == report.rows
    assert all(e.line >= 1 and e.reason and "\n" not in e.reason for e in report.errors)
    assert _count(ledger)["deletion_requests"] == before["deletion_requests"] + report.created


def _csv_bytes(header: list[str], data: list[dict[str, str]], junk: bytes) -> bytes:
    def cell(v: str) -> bytes:
        return v.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8 in the file

    lines = [b",".join(cell(h) for h in header)]
    lines += [b",".join(cell(r[c]) for c in header) for r in data]
    return b"\n".join(lines) + b"\n" + junk


def test_csv_import_never_crashes_or_half_writes(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    path = tmp_path / "r.csv"

    @fuzz(60)
    @given(
        header=st.permutations(list(intake.IMPORT_COLUMNS)).map(list) | st.lists(fields, max_size=4),
        data=rows,
        junk=st.binary(max_size=40),
    )
    def check(header: list[str], data: list[dict[str, str]], junk: bytes) -> None:
        path.write_bytes(
            _csv_bytes(header, [{**r, **{h: "" for h in header if h not in r}} for r in data], junk)
        )
        _check_import(ledger, path)

    try:
        check()
    finally:
        ledger.dispose()


def test_jsonl_import_never_crashes_or_half_writes(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    path = tmp_path / "r.jsonl"
    values: Any = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | fields,
        lambda c: st.lists(c, max_size=3),
        max_leaves=8,
    )
    line = st.one_of(
        st.dictionaries(st.sampled_from(intake.IMPORT_COLUMNS) | _anything, values, max_size=5).map(
            json.dumps
        ),
        rows.map(lambda rs: json.dumps(rs[0]) if rs else "{}"),
        st.just('{"subject": "a@example.com", "subject": "b@example.com", "policy": "ccpa"}'),
        st.just("[" * 3000 + "]" * 3000),
        _anything,
    )

    @fuzz(60)
    @given(lines=st.lists(line, max_size=6), junk=st.binary(max_size=30))
    def check(lines: list[str], junk: bytes) -> None:
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n" + junk)
        _check_import(ledger, path)

    try:
        check()
    finally:
        ledger.dispose()


def test_import_cli_fails_with_one_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(capsys, home, "init")[0] == 0

    @fuzz(15)
    @given(data=rows, junk=st.binary(max_size=30), jsonl=st.booleans())
    def check(data: list[dict[str, str]], junk: bytes, jsonl: bool) -> None:
        if jsonl:
            path = tmp_path / "r.jsonl"
            body = "\n".join(json.dumps(r) for r in data).encode() + b"\n" + junk
        else:
            path = tmp_path / "r.csv"
            body = _csv_bytes(list(intake.IMPORT_COLUMNS), data, junk)
        path.write_bytes(body)
        code, _, err = run_cli(capsys, home, "requests", "import", str(path))
        assert_clean_failure(code, err)

    check()


def test_submit_cli_fails_with_one_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_cli(capsys, home, "init")[0] == 0

    @fuzz(25)
    @given(subject=fields, policy=fields, received_at=fields, key=fields)
    def check(subject: str, policy: str, received_at: str, key: str) -> None:
        args = [
            "--subject",
            subject,
            "--policy",
            policy,
            "--received-at",
            received_at,
            "--idempotency-key",
            key,
        ]
        code, _, err = run_cli(capsys, home, "requests", "submit", *args)
        assert_clean_failure(code, err, allowed=(2,))

    check()
