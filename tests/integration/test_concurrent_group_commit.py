"""Two processes recording overlapping groups at the same moment (as two ``serve`` workers do): the unique
constraints decide, a lost race retries the group, and every key ends up as exactly one request with one
audit entry (SQLite file and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROUNDS = 8
GROUP = 6
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def _recorder(url: str, home: str, tag: str, barrier: Any, results: Any) -> None:
    from deletion_sdk.ledger.records import SubmitResult
    from deletion_sdk.ledger.subjects import subject_ref
    from deletion_sdk.ledger.submit_batch import SubmitItem, submit_many
    from deletion_sdk.sdk import DeletionSDK

    out = []
    try:
        with DeletionSDK.open(home=Path(home), database_url=url) as sdk:
            policy = sdk.policy("gdpr-art17")
            for r in range(ROUNDS):
                # both processes: the same keys for the same people (shared), plus keys of their own
                items = [
                    SubmitItem(
                        subject_ref=subject_ref(f"r{r}-p{i}@example.org", sdk.subject_key),
                        policy=policy,
                        received_at=NOW,
                        idempotency_key=f"r{r}-k{i}" if i % 2 == 0 else f"r{r}-k{i}-{tag}",
                        actor=tag,
                    )
                    for i in range(GROUP)
                ]
                barrier.wait()
                for outcome in submit_many(sdk.ledger, items):
                    if not isinstance(outcome, SubmitResult):
                        raise outcome
                    out.append((outcome.request.request_id, outcome.created, outcome.duplicate_of_open))
        results.put((tag, out))
    except BaseException as e:  # report instead of hanging the parent
        results.put((tag, repr(e)))
        barrier.abort()


@pytest.mark.slow
def test_two_processes_recording_groups_create_each_request_once(
    db_url: str, tmp_path: Path, run_together: Callable[..., list[Any]]
) -> None:
    from deletion_sdk.sdk import DeletionSDK

    home = tmp_path / "home"
    DeletionSDK.open(home=home, database_url=db_url).close()  # migrate and create the subject key once
    results = dict(run_together(_recorder, [(db_url, str(home), "p1"), (db_url, str(home), "p2")]))
    assert all(isinstance(v, list) for v in results.values()), results
    for n, (a, b) in enumerate(zip(results["p1"], results["p2"], strict=True)):
        assert a[0] == b[0], f"answer {n}: two different requests for one person"
        assert sorted([a[1], b[1]]) == [False, True], f"answer {n}: exactly one process must create it"
        loser = b if a[1] else a
        assert loser[2] == (n % GROUP % 2 == 1), f"answer {n}: duplicate_of_open only for another key"
    with DeletionSDK.open(home=home, database_url=db_url) as sdk:
        stored = sdk.list_requests()
        assert len(stored) == ROUNDS * GROUP
        entries = [e.event for e in sdk.audit_log.entries()]
        received = [e.data["request_id"] for e in entries if e.type == "request.received"]
        assert sorted(received) == sorted(r.request_id for r in stored)  # one audit entry per request
        sdk.verify_audit_log()
