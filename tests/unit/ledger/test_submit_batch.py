"""Group commit of submissions (``submit_many``): one transaction, yet every item answered as if alone.

Runs on a real SQLite file and on the real PostgreSQL server, through the SDK so that the audit log and the
webhook outbox (the ledger's event sink) are written in the batch's transaction as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from deletion_sdk.errors import ConflictError, InputError
from deletion_sdk.ledger import submit_batch, webhooks
from deletion_sdk.ledger.records import SubmitResult
from deletion_sdk.ledger.subjects import subject_ref
from deletion_sdk.ledger.submit_batch import SubmitItem, submit_many
from deletion_sdk.sdk import DeletionSDK

NOW = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
RAW = "oswin.falkenrath+batch@example.org"  # distinctive: grepped for in the database


@pytest.fixture
def sdk(db_url: str, tmp_path: Path) -> Iterator[DeletionSDK]:
    with DeletionSDK.open(home=tmp_path / "home", database_url=db_url) as opened:
        webhooks.add_endpoint(opened.ledger, url="http://127.0.0.1:9/hook", actor="test")
        yield opened


def _item(
    sdk: DeletionSDK, who: str, key: str | None, *, policy: str = "gdpr-art17", **kw: object
) -> SubmitItem:
    return SubmitItem(
        subject_ref=subject_ref(who, sdk.subject_key),
        policy=sdk.policy(policy),
        received_at=NOW,
        idempotency_key=key,
        actor=str(kw.pop("actor", "token:test")),
        **kw,  # type: ignore[arg-type]
    )


def _commits(sdk: DeletionSDK) -> list[int]:
    """A counter of committed transactions on the SDK's engine."""
    count = [0]
    sa.event.listen(sdk.ledger.engine, "commit", lambda _conn: count.__setitem__(0, count[0] + 1))
    return count


def _events(sdk: DeletionSDK, since: int) -> list[dict]:
    return [e.event.model_dump() for e in sdk.audit_log.entries(start=since)]


def _count(sdk: DeletionSDK, table: str) -> int:
    with sdk.ledger.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


def test_n_submissions_are_n_requests_in_one_transaction(sdk: DeletionSDK) -> None:
    before, commits = sdk.audit_log.size(), _commits(sdk)
    items = [_item(sdk, f"person-{i}@example.org", f"k-{i}") for i in range(12)]
    outcomes = submit_many(sdk.ledger, items, now=NOW)
    assert commits[0] == 1  # one transaction for the whole batch
    assert all(isinstance(o, SubmitResult) and o.created for o in outcomes)
    ids = [o.request.request_id for o in outcomes if isinstance(o, SubmitResult)]
    assert len(set(ids)) == 12
    assert _count(sdk, "deletion_requests") == 12 and _count(sdk, "request_history") == 12
    events = _events(sdk, before)
    assert [e["type"] for e in events] == ["request.received"] * 12
    assert [e["data"]["request_id"] for e in events] == ids  # one entry per request, in order
    with sdk.ledger.session(write=False) as s:
        outbox = webhooks.list_deliveries(s)
    assert sorted(json.loads(d.payload)["data"]["request_id"] for d in outbox) == sorted(ids)
    sdk.verify_audit_log()  # the batch's entries extend the log's tree and chain correctly
    for o, item in zip(outcomes, items, strict=True):  # each answer is its own item's request
        assert isinstance(o, SubmitResult) and o.request.subject_ref == item.subject_ref


def test_replays_and_duplicates_answer_as_one_by_one_submits_would(sdk: DeletionSDK) -> None:
    first = submit_many(sdk.ledger, [_item(sdk, "ada@example.org", "stored-key")], now=NOW)[0]
    assert isinstance(first, SubmitResult) and first.created
    before = sdk.audit_log.size()
    items = [
        _item(sdk, "ada@example.org", "stored-key"),  # 0: replay of a stored key
        _item(sdk, "bo@example.org", "new-key"),  # 1: new
        _item(sdk, "bo@example.org", "new-key"),  # 2: replay of a key first seen in this batch
        _item(sdk, "bo@example.org", "other-key"),  # 3: same person and policy, open request: duplicate
        _item(sdk, "cy@example.org", "stored-key"),  # 4: a stored key of another person: conflict
        _item(sdk, "bo@example.org", "ccpa-key", policy="ccpa"),  # 5: same person, other policy: new
        _item(sdk, "dee@example.org", None),  # 6: no key: new
        _item(sdk, "dee@example.org", None),  # 7: no key, open request of the same person: duplicate
    ]
    out = submit_many(sdk.ledger, items, now=NOW)
    r = [o if isinstance(o, SubmitResult) else None for o in out]
    assert r[0] and not r[0].created and not r[0].duplicate_of_open
    assert r[0].request.request_id == first.request.request_id
    assert r[1] and r[1].created
    assert r[2] and not r[2].created and not r[2].duplicate_of_open
    assert r[2].request.request_id == r[1].request.request_id
    assert r[3] and not r[3].created and r[3].duplicate_of_open
    assert r[3].request.request_id == r[1].request.request_id
    assert isinstance(out[4], ConflictError) and "different subject or policy" in str(out[4])
    assert r[5] and r[5].created and r[5].request.request_id != r[1].request.request_id
    assert r[6] and r[6].created
    assert r[7] and r[7].duplicate_of_open and r[7].request.request_id == r[6].request.request_id
    assert _count(sdk, "deletion_requests") == 4  # ada, bo (gdpr), bo (ccpa), dee
    assert [e["type"] for e in _events(sdk, before)] == ["request.received"] * 3
    replay = submit_many(sdk.ledger, items[:4], now=NOW)  # the whole batch again: nothing new
    assert [o.request.request_id for o in replay if isinstance(o, SubmitResult)] == [
        first.request.request_id,
        *[r[1].request.request_id] * 3,
    ]
    assert not any(isinstance(o, SubmitResult) and o.created for o in replay)
    assert _count(sdk, "deletion_requests") == 4


def test_a_malformed_item_fails_alone(sdk: DeletionSDK) -> None:
    good = _item(sdk, "eve@example.org", "good")
    bad_ref = SubmitItem(
        subject_ref=RAW, policy=good.policy, received_at=NOW, idempotency_key="b1", actor="t"
    )
    naive = SubmitItem(
        subject_ref=good.subject_ref,
        policy=good.policy,
        received_at=datetime(2024, 1, 1),  # naive
        idempotency_key="b2",
        actor="t",
    )
    out = submit_many(sdk.ledger, [bad_ref, good, naive], now=NOW)
    assert isinstance(out[0], InputError) and RAW not in str(out[0])
    assert isinstance(out[1], SubmitResult) and out[1].created
    assert isinstance(out[2], InputError) and "timezone-aware" in str(out[2])
    assert _count(sdk, "deletion_requests") == 1


def test_verified_items_move_to_verified_in_the_same_transaction(sdk: DeletionSDK) -> None:
    before, commits = sdk.audit_log.size(), _commits(sdk)
    out = submit_many(
        sdk.ledger, [_item(sdk, "fay@example.org", "v", verified=True), _item(sdk, "gus@example.org", "n")]
    )
    assert commits[0] == 1
    verified, plain = out
    assert isinstance(verified, SubmitResult) and verified.request.status == "verified"
    assert isinstance(plain, SubmitResult) and plain.request.status == "received"
    history = sdk.request_history(request_id=verified.request.request_id)
    assert [(h.from_status, h.to_status) for h in history] == [(None, "received"), ("received", "verified")]
    assert history[1].reason == submit_batch.VERIFIED_AT_INTAKE
    assert sdk.get_request(request_id=verified.request.request_id).status == "verified"
    types = [(e["type"], e["data"]["request_id"]) for e in _events(sdk, before)]
    rid = verified.request.request_id
    assert types == [
        ("request.received", rid),
        ("request.status_changed", rid),
        ("request.received", plain.request.request_id),
    ]
    again = submit_many(sdk.ledger, [_item(sdk, "fay@example.org", "v", verified=True)])[0]
    assert isinstance(again, SubmitResult) and not again.created  # a replay changes nothing
    assert len(sdk.request_history(request_id=rid)) == 2


def test_a_lost_race_retries_the_batch_and_answers_with_the_winner(
    sdk: DeletionSDK, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process commits the same key between our lookup and our insert: the batch's transaction
    fails on the unique constraint, is retried, and answers with the winner's request; nothing is doubled."""
    winner = submit_many(sdk.ledger, [_item(sdk, "hal@example.org", "raced")], now=NOW)[0]
    assert isinstance(winner, SubmitResult)
    real_lookup, calls = submit_batch._Known.lookup, []

    def stale_lookup(session, items):  # type: ignore[no-untyped-def]
        calls.append(len(items))
        if len(calls) == 1:  # the first attempt does not see the winner's row, as in a real race
            return submit_batch._Known({}, {})
        return real_lookup(session, items)

    monkeypatch.setattr(submit_batch._Known, "lookup", staticmethod(stale_lookup))
    before = sdk.audit_log.size()
    out = submit_many(
        sdk.ledger, [_item(sdk, "ivy@example.org", "fresh"), _item(sdk, "hal@example.org", "raced")], now=NOW
    )
    assert len(calls) == 2
    fresh, raced = out
    assert isinstance(fresh, SubmitResult) and fresh.created
    assert isinstance(raced, SubmitResult) and not raced.created
    assert raced.request.request_id == winner.request.request_id
    assert _count(sdk, "deletion_requests") == 2
    assert [e["type"] for e in _events(sdk, before)] == ["request.received"]  # the failed attempt left none
    sdk.verify_audit_log()


def test_a_failing_batch_falls_back_to_one_by_one(sdk: DeletionSDK, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything else that fails the shared transaction: each item is recorded on its own instead."""

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("the insert broke")

    monkeypatch.setattr(submit_batch, "_insert", broken)
    items = [_item(sdk, "jo@example.org", "j1"), _item(sdk, "kai@example.org", "j2", verified=True)]
    out = submit_many(sdk.ledger, items, now=NOW)
    assert all(isinstance(o, SubmitResult) and o.created for o in out)
    assert [o.request.status for o in out if isinstance(o, SubmitResult)] == ["received", "verified"]
    assert _count(sdk, "deletion_requests") == 2 and _count(sdk, "request_history") == 3
    sdk.verify_audit_log()


def test_no_raw_identifier_reaches_the_database(sdk: DeletionSDK) -> None:
    submit_many(sdk.ledger, [_item(sdk, RAW, "raw-check"), _item(sdk, RAW, "raw-check-2")], now=NOW)
    with sdk.ledger.engine.connect() as conn:
        for table in (
            "deletion_requests",
            "request_history",
            "audit_entries",
            "webhook_deliveries",
            "subjects",
        ):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            assert RAW not in repr(rows), table


@pytest.mark.parametrize("broken_batch", [False, True], ids=["batch", "fallback"])
def test_a_gate_refuses_items_inside_the_transaction(
    sdk: DeletionSDK, monkeypatch: pytest.MonkeyPatch, broken_batch: bool
) -> None:
    if broken_batch:

        def broken(*_a: object, **_k: object) -> None:
            raise RuntimeError("the insert broke")

        monkeypatch.setattr(submit_batch, "_insert", broken)
    items = [_item(sdk, f"gate-{i}@example.org", f"g{i}") for i in range(3)]
    seen: list[int] = []

    def gate(session, batch):  # type: ignore[no-untyped-def]
        seen.append(len(batch))
        return [PermissionError("refused") if item is items[1] else None for item in batch]

    out = submit_many(sdk.ledger, items, now=NOW, gate=gate)
    assert isinstance(out[1], PermissionError)
    assert all(isinstance(o, SubmitResult) and o.created for o in (out[0], out[2]))
    assert _count(sdk, "deletion_requests") == 2
    assert seen == (
        [3, 3] if broken_batch else [3]
    )  # the fallback asks the gate again, in its own transaction
