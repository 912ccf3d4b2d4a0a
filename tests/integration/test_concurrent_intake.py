"""Two processes submitting at the same moment create exactly one request (SQLite file and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROUNDS = 12
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def _submitter(url: str, tag: str, barrier: Any, results: Any) -> None:
    from deletion_sdk.ledger import requests
    from deletion_sdk.ledger.db import Ledger
    from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
    from deletion_sdk.policy import load_policy

    ledger = Ledger.open(url)
    policy = load_policy("gdpr-art17")
    key = SubjectKey(bytes(32))
    out = []
    try:
        for i in range(ROUNDS):
            # even rounds: the same idempotency key; odd rounds: different keys, same subject and policy
            idem = f"key-{i}" if i % 2 == 0 else f"key-{i}-{tag}"
            barrier.wait()
            result = requests.submit(
                ledger,
                subject_ref=subject_ref(f"subject-{i}", key),
                policy=policy,
                received_at=NOW,
                idempotency_key=idem,
                actor=tag,
            )
            out.append((result.request.request_id, result.created, result.duplicate_of_open))
        results.put((tag, out))
    except BaseException as e:  # report instead of hanging the parent
        results.put((tag, repr(e)))
        barrier.abort()
    finally:
        ledger.dispose()


@pytest.mark.slow
def test_two_processes_same_key_create_exactly_one_request(
    db_url: str, run_together: Callable[..., list[Any]]
) -> None:
    from deletion_sdk.ledger.db import Ledger

    Ledger.open(db_url, create=True).dispose()
    results = dict(run_together(_submitter, [(db_url, "p1"), (db_url, "p2")]))
    assert all(isinstance(v, list) for v in results.values()), results
    for i, (a, b) in enumerate(zip(results["p1"], results["p2"], strict=True)):
        assert a[0] == b[0], f"round {i}: two different requests were created"
        assert sorted([a[1], b[1]]) == [False, True], f"round {i}: exactly one submit must create"
        loser = b if a[1] else a
        assert loser[2] == (i % 2 == 1), (
            f"round {i}: the loser must say duplicate_of_open only for other keys"
        )
    ledger = Ledger.open(db_url)
    try:
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_requests").scalar() == ROUNDS
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM request_history").scalar() == ROUNDS
    finally:
        ledger.dispose()


def _importer(url: str, path: str, barrier: Any, results: Any) -> None:
    from deletion_sdk.ledger import intake
    from deletion_sdk.ledger.db import Ledger
    from deletion_sdk.ledger.subjects import SubjectKey
    from deletion_sdk.policy import load_policy

    ledger = Ledger.open(url)
    try:
        barrier.wait()
        report = intake.import_requests(
            ledger, path=Path(path), subject_key=SubjectKey(bytes(32)), load_policy=load_policy
        )
        results.put(report.model_dump(mode="json"))
    except BaseException as e:
        results.put(repr(e))
        barrier.abort()
    finally:
        ledger.dispose()


@pytest.mark.slow
def test_two_processes_importing_one_file_record_each_row_once(
    db_url: str, tmp_path: Path, run_together: Callable[..., list[Any]]
) -> None:
    from deletion_sdk.ledger.db import Ledger

    Ledger.open(db_url, create=True).dispose()
    path = tmp_path / "requests.csv"
    rows = [f"person-{i}@example.com,ccpa,2024-05-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(400)]
    path.write_text("subject,policy,received_at\n" + "\n".join(rows) + "\n")
    reports = run_together(_importer, [(db_url, str(path))] * 2)
    assert all(isinstance(r, dict) for r in reports), reports
    assert reports[0]["request_ids"] == reports[1]["request_ids"]
    assert sorted(r["created"] for r in reports)[1] > 0
    assert sum(r["created"] for r in reports) == 400
    assert all(r["errors"] == [] for r in reports)
    ledger = Ledger.open(db_url)
    try:
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM deletion_requests").scalar() == 400
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM request_history").scalar() == 400
    finally:
        ledger.dispose()
