"""Found 4 of the input review: one bad row never costs the file, and every channel has the same limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deletion_sdk.errors import InputError
from deletion_sdk.ledger import intake
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.request_input import (
    MAX_FIELD_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_ROW_BYTES,
    validate_request_input,
)
from deletion_sdk.ledger.subjects import SubjectKey
from deletion_sdk.policy import load_policy

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _import(ledger: Ledger, key: SubjectKey, path: Path) -> intake.ImportReport:
    return intake.import_requests(ledger, path=path, subject_key=key, load_policy=load_policy, now=NOW)


@pytest.mark.parametrize(
    ("received_at", "match"),
    [
        ("9999-12-31T23:00:00-05:00", "representable range"),
        ("0001-01-01", "before 1970"),
        ("1969-12-31T23:59:59Z", "before 1970"),
        ("2024-06-01T12:05:01Z", "future"),
        ("2024-02-30", "ISO 8601"),
        (datetime(2999, 1, 1), "future"),
    ],
)
def test_received_at_is_bounded_and_never_overflows(received_at: str | datetime, match: str) -> None:
    with pytest.raises(InputError, match=match):
        validate_request_input(subject="a@example.com", policy="ccpa", received_at=received_at, now=NOW)


def test_bounds_edges_are_inclusive() -> None:
    for text in ("1970-01-01T00:00:00Z", "2024-06-01T12:05:00Z", "2024-06-01T07:05:00-05:00"):
        fields = validate_request_input(subject="a", policy="ccpa", received_at=text, now=NOW)
        assert fields.received_at.tzinfo is not None and fields.received_at_given


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subject": "a\udcff"}, "'subject'.*UTF-8"),
        ({"subject": "\ud800"}, "'subject'.*UTF-8"),
        ({"subject": "a\x00b"}, "'subject'.*control"),
        ({"subject": "x" * (MAX_FIELD_CHARS + 1)}, "'subject'.*at most 1024"),
        ({"idempotency_key": "k" * (MAX_IDEMPOTENCY_KEY_CHARS + 1)}, "'idempotency_key'.*at most 200"),
        ({"idempotency_key": " "}, "'idempotency_key'"),
        ({"policy": 3}, "'policy'.*string"),
    ],
)
def test_text_limits(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"subject": "a@example.com", "policy": "ccpa", **kwargs}
    with pytest.raises(InputError, match=match) as info:
        validate_request_input(**args, now=NOW)  # type: ignore[arg-type]
    assert "a@example.com" not in str(info.value)


def test_a_bad_row_costs_only_its_line_in_csv(ledger: Ledger, key: SubjectKey, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = [
        b"\xef\xbb\xbfsubject,policy,received_at,idempotency_key",  # BOM
        b"a@example.com,ccpa,2024-01-01,",
        b"b@example.com,ccpa,9999-12-31T23:00:00-05:00,",
        b"c@example.com,ccpa,0001-01-01,",
        b"\xff\xfe@example.com,ccpa,2024-01-01,",  # invalid UTF-8
        b"d@example.com,ccpa,2024-01-01," + b"k" * (MAX_ROW_BYTES + 10),  # over the row cap
        b'"e@example.com,ccpa,2024-01-01,',  # unterminated quote: must not swallow the next line
        b"f@example.com,ccpa,2024-01-01,",
    ]
    path.write_bytes(b"\r\n".join(rows) + b"\r\n")
    report = _import(ledger, key, path)
    assert report.created == 2
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 7]
    reasons = [e.reason for e in report.errors]
    assert "representable" in reasons[0] and "1970" in reasons[1] and "UTF-8" in reasons[2]
    assert f"{MAX_ROW_BYTES} bytes" in reasons[3] and "CSV" in reasons[4]
    assert not any("example.com" in r for r in reasons)


def test_a_bad_row_costs_only_its_line_in_jsonl(ledger: Ledger, key: SubjectKey, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [
        "\ufeff" + json.dumps({"subject": "a@example.com", "policy": "ccpa"}),  # BOM
        '{"subject": "\\ud800", "policy": "ccpa"}',  # lone surrogate
        '{"subject": "q@example.com", "subject": "r@example.com", "policy": "ccpa"}',  # duplicate key
        '{"subject": ' * 5000 + '"x"' + "}" * 5000,  # deep nesting
        json.dumps({"subject": "b@example.com", "policy": "ccpa", "received_at": "0001-01-01"}),
        json.dumps({"subject": "c@example.com", "policy": "ccpa", "received_at": "2024-01-01T00:00:00Z"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _import(ledger, key, path)
    assert report.created == 2
    assert [e.line for e in report.errors] == [2, 3, 4, 5]
    assert "UTF-8" in report.errors[0].reason and "duplicate key" in report.errors[1].reason
    assert "1970" in report.errors[3].reason


@pytest.mark.parametrize(
    ("field", "value"),
    [("idempotency_key", "k" * (MAX_IDEMPOTENCY_KEY_CHARS + 1)), ("subject", "s" * (MAX_FIELD_CHARS + 1))],
)
def test_limits_are_the_same_in_csv_jsonl_and_submit(
    ledger: Ledger, key: SubjectKey, tmp_path: Path, field: str, value: str
) -> None:
    row = {"subject": "a@example.com", "policy": "ccpa", "received_at": "2024-01-01", field: value}
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(
        "subject,policy,received_at,idempotency_key\n"
        + ",".join(row.get(c, "") for c in intake.IMPORT_COLUMNS)
        + "\n"
    )
    jsonl_path = tmp_path / "r.jsonl"
    jsonl_path.write_text(json.dumps(row) + "\n")
    reasons = [_import(ledger, key, p).errors[0].reason for p in (csv_path, jsonl_path)]
    with pytest.raises(InputError) as info:
        validate_request_input(**row, now=NOW)
    assert reasons == [str(info.value)] * 2
