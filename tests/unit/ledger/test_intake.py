from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deletion_sdk.errors import ManifestError
from deletion_sdk.ledger import intake, requests
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.policy import load_policy

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _import(ledger: Ledger, key: SubjectKey, path: Path, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return intake.import_requests(ledger, path=path, subject_key=key, load_policy=load_policy, now=now)


def _snapshot(ledger: Ledger) -> dict[str, list[Any]]:
    with ledger.engine.connect() as conn:
        return {
            t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr)
            for t in ("subjects", "deletion_requests", "request_history")
        }


CSV = """subject,policy,received_at,idempotency_key
alice@example.com,gdpr-art17,2024-05-02T10:00:00Z,t-1
bob@example.com,ccpa,2024-05-03,
carol@example.com,nonsense,2024-05-03,
,gdpr-art17,,
dave@example.com,gdpr-art17,2024-02-30,
erin@example.com,gdpr-art17,2099-01-01,
Alice@Example.com,gdpr-art17,2024-05-20,
frank@example.com,ccpa,,
"""


def test_csv_import_lands_good_rows_and_reports_bad_ones(
    ledger: Ledger, key: SubjectKey, tmp_path: Path
) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(CSV)
    report = _import(ledger, key, path)
    assert report.rows == 8
    assert (report.created, report.existing, report.duplicate_of_open) == (3, 0, 1)
    assert [(e.line, e.reason.split(" ")[0]) for e in report.errors] == [
        (4, "Unknown"),
        (5, "The"),
        (6, "The"),
        (7, "The"),
    ]
    assert "nonsense" in report.errors[0].reason
    assert "'subject'" in report.errors[1].reason
    assert "'received_at'" in report.errors[2].reason and "future" in report.errors[3].reason
    assert len(report.request_ids) == 4
    assert report.request_ids[0] == report.request_ids[2]  # line 8 is alice again: her open request
    with ledger.session(write=False) as session:
        records = requests.list_requests(session)
        alice = requests.get(session, report.request_ids[0])
        (entry,) = requests.history(session, report.request_ids[0])
    assert len(records) == 3
    assert alice.subject_ref == subject_ref("alice@example.com", key)
    # the caller's key is stored keyed (HMAC), never as given: it may contain personal data
    assert alice.idempotency_key == intake.keyed_idempotency_key(key, "t-1") != "t-1"
    assert alice.received_at == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert entry.reason == "batch import" and entry.to_status == "received"
    frank = next(r for r in records if r.policy == "ccpa" and r.received_at == NOW)
    assert frank.idempotency_key is None  # no received_at: no derived key


def test_importing_the_same_file_twice_creates_no_duplicates(
    ledger: Ledger, key: SubjectKey, tmp_path: Path
) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(CSV)
    first = _import(ledger, key, path)
    before = _snapshot(ledger)
    second = _import(ledger, key, path, now=datetime(2024, 6, 2, tzinfo=UTC))
    assert second.created == 0
    assert second.existing + second.duplicate_of_open == len(second.request_ids) == len(first.request_ids)
    assert second.request_ids == first.request_ids
    assert _snapshot(ledger) == before


def test_derived_keys_make_rows_idempotent_across_files(
    sqlite_url: str, key: SubjectKey, tmp_path: Path
) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        a = tmp_path / "a.jsonl"
        a.write_text(
            json.dumps({"subject": "x@example.com", "policy": "ccpa", "received_at": "2024-05-01"}) + "\n"
        )
        b = tmp_path / "b.csv"
        b.write_text("policy,subject,received_at\nccpa,X@EXAMPLE.COM,2024-05-01T00:00:00+00:00\n")
        first = _import(ledger, key, a)
        rid = first.request_ids[0]
        with ledger.session() as session:  # finish it: the open-request rule no longer applies
            requests.transition(session, request_id=rid, to="cancelled", actor="t")
        second = _import(ledger, key, b)
        assert (second.created, second.existing, second.request_ids) == (0, 1, (rid,))
        expected = intake.derived_idempotency_key(
            key,
            subject_ref=subject_ref("x@example.com", key),
            policy_id="ccpa",
            received_at=datetime(2024, 5, 1, tzinfo=UTC),
        )
        with ledger.session(write=False) as session:
            assert requests.get(session, rid).idempotency_key == expected
    finally:
        ledger.dispose()


def test_jsonl_import_reports_bad_lines(sqlite_url: str, key: SubjectKey, tmp_path: Path) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        path = tmp_path / "requests.jsonl"
        lines = [
            json.dumps({"subject": "a@example.com", "policy": "gdpr-art17"}),
            "",
            "{not json",
            json.dumps(["a list"]),
            json.dumps({"subject": "b@example.com", "policy": "ccpa", "colour": "red"}),
            json.dumps({"subject": 42, "policy": "ccpa"}),
            json.dumps({"subject": "c@example.com", "policy": "ccpa", "idempotency_key": "k" * 201}),
            json.dumps({"subject": "d@example.com", "policy": "ccpa", "idempotency_key": "k-1"}),
            json.dumps({"subject": "e@example.com", "policy": "ccpa", "idempotency_key": "k-1"}),
        ]
        path.write_text("\n".join(lines) + "\n")
        report = _import(ledger, key, path)
        assert report.created == 2
        assert [e.line for e in report.errors] == [3, 4, 5, 6, 7, 9]
        assert "JSON" in report.errors[0].reason and "colour" in report.errors[2].reason
        assert "different subject" in report.errors[-1].reason
        for err in report.errors:
            assert "@example.com" not in err.reason
    finally:
        ledger.dispose()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("subject,received_at\na@example.com,2024-01-01\n", "missing column.*policy"),
        ("subject,policy,recieved_at\na@example.com,ccpa,2024-01-01\n", "unknown column.*recieved_at"),
    ],
)
def test_bad_header_rejects_the_whole_file(
    ledger: Ledger, key: SubjectKey, tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    before = _snapshot(ledger)
    with pytest.raises(ManifestError, match=match):
        _import(ledger, key, path)
    assert _snapshot(ledger) == before


def test_missing_file_and_unknown_format(sqlite_url: str, key: SubjectKey, tmp_path: Path) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        with pytest.raises(ManifestError, match="not found"):
            _import(ledger, key, tmp_path / "absent.csv")
        (tmp_path / "x.xlsx").write_text("")
        with pytest.raises(ManifestError, match=r"\.csv or \.jsonl"):
            _import(ledger, key, tmp_path / "x.xlsx")
    finally:
        ledger.dispose()


def test_large_import_spans_several_bulk_chunks(sqlite_url: str, key: SubjectKey, tmp_path: Path) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        n = intake.CHUNK_ROWS + 1_500
        path = tmp_path / "many.csv"
        rows = [f"subject-{i},ccpa,2024-05-01T00:00:{i % 60:02d}Z,k{i}" for i in range(n)]
        rows.append("subject-0,ccpa,2024-05-01,k0")  # same key as the first row, in a later chunk
        path.write_text("subject,policy,received_at,idempotency_key\n" + "\n".join(rows) + "\n")
        report = _import(ledger, key, path)
        assert (report.created, report.existing, report.errors) == (n, 1, ())
        assert report.request_ids[-1] == report.request_ids[0]
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_requests").scalar() == n
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM request_history").scalar() == n
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM subjects").scalar() == n
    finally:
        ledger.dispose()
