from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from deletion_sdk.errors import ConflictError, IllegalTransitionError, InputError, NotFoundError
from deletion_sdk.ledger import requests
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.requests import TRANSITIONS
from deletion_sdk.ledger.statuses import TERMINAL_STATUSES, RequestStatus
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.policy import Policy

S = RequestStatus
NOW = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)


def _submit(ledger: Ledger, key: SubjectKey, policy: Policy, who: str = "alice@example.com", **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("received_at", NOW)
    kw.setdefault("now", NOW)
    return requests.submit(ledger, subject_ref=subject_ref(who, key), policy=policy, **kw)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_ledger(sqlite_url: str) -> Iterator[Ledger]:
    """For pure lifecycle logic: SQLite only (the constraint and concurrency tests cover PostgreSQL)."""
    opened = Ledger.open(sqlite_url, create=True)
    yield opened
    opened.dispose()


def _walk(ledger: Ledger, request_id: str, *path: S, now: datetime = NOW) -> None:
    with ledger.session() as session:
        for status in path:
            requests.transition(session, request_id=request_id, to=status, actor="test", now=now)


def test_submit_records_a_received_request_with_history(
    ledger: Ledger, key: SubjectKey, gdpr: Policy
) -> None:
    result = _submit(ledger, key, gdpr, actor="intake-service")
    assert result.created and not result.duplicate_of_open
    r = result.request
    assert (r.status, r.policy, r.policy_digest) == ("received", "gdpr-art17", gdpr.digest)
    assert r.received_at == NOW and r.received_at.tzinfo is not None
    assert r.due_at == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)  # 31 Jan + 1 month, leap year
    with ledger.session(write=False) as session:
        assert requests.get(session, r.request_id) == r
        (entry,) = requests.history(session, r.request_id)
    assert (entry.from_status, entry.to_status, entry.actor) == (None, "received", "intake-service")


def test_same_idempotency_key_returns_the_same_request(ledger: Ledger, key: SubjectKey, gdpr: Policy) -> None:
    first = _submit(ledger, key, gdpr, idempotency_key="ticket-1")
    again = _submit(ledger, key, gdpr, idempotency_key="ticket-1", received_at=NOW - timedelta(days=1))
    assert not again.created and not again.duplicate_of_open
    assert again.request == first.request
    with ledger.session(write=False) as session:
        assert len(requests.list_requests(session)) == 1


def test_idempotency_key_of_another_subject_is_a_conflict(
    sqlite_ledger: Ledger, key: SubjectKey, gdpr: Policy
) -> None:
    ledger = sqlite_ledger
    _submit(ledger, key, gdpr, idempotency_key="ticket-1")
    with pytest.raises(ConflictError, match="different subject or policy"):
        _submit(ledger, key, gdpr, who="bob@example.com", idempotency_key="ticket-1")


def test_second_open_request_returns_the_open_one(
    ledger: Ledger, key: SubjectKey, gdpr: Policy, ccpa: Policy
) -> None:
    first = _submit(ledger, key, gdpr)
    dup = _submit(ledger, key, gdpr, who=" ALICE@example.com ", idempotency_key="other-key")
    assert dup.duplicate_of_open and not dup.created
    assert dup.request.request_id == first.request.request_id
    other_policy = _submit(ledger, key, ccpa)
    assert other_policy.created
    # once the first is finished, a new request of the same subject and policy may be recorded
    _walk(ledger, first.request.request_id, S.VERIFIED, S.SCHEDULED, S.UNLEARNING, S.VERIFYING, S.COMPLETED)
    later = _submit(ledger, key, gdpr)
    assert later.created and later.request.request_id != first.request.request_id


def test_database_allows_one_open_request_per_subject_and_policy(
    ledger: Ledger, key: SubjectKey, gdpr: Policy
) -> None:
    first = _submit(ledger, key, gdpr)
    with pytest.raises(sa.exc.IntegrityError), ledger.session() as session:
        session.execute(
            sa.text(
                "INSERT INTO deletion_requests (id, subject_ref, policy_id, policy_digest, status, "
                "received_at, due_at, extensions, created_at, updated_at) SELECT 'dup', subject_ref, "
                "policy_id, policy_digest, 'verified', received_at, due_at, 0, created_at, updated_at "
                "FROM deletion_requests WHERE id = :id"
            ),
            {"id": first.request.request_id},
        )


ALL_MOVES = [(a, b) for a in RequestStatus for b in RequestStatus]
_PATH_TO = {
    S.RECEIVED: (),
    S.VERIFIED: (S.VERIFIED,),
    S.SCHEDULED: (S.VERIFIED, S.SCHEDULED),
    S.UNLEARNING: (S.VERIFIED, S.SCHEDULED, S.UNLEARNING),
    S.VERIFYING: (S.VERIFIED, S.SCHEDULED, S.UNLEARNING, S.VERIFYING),
    S.COMPLETED: (S.VERIFIED, S.SCHEDULED, S.UNLEARNING, S.VERIFYING, S.COMPLETED),
    S.DENIED: (S.DENIED,),
    S.CANCELLED: (S.CANCELLED,),
    S.FAILED: (S.VERIFIED, S.SCHEDULED, S.FAILED),
    S.NO_DATA: (S.VERIFIED, S.NO_DATA),
}


def test_transition_table_matches_the_design() -> None:
    assert set(TRANSITIONS) == set(RequestStatus)
    main_path = [S.RECEIVED, S.VERIFIED, S.SCHEDULED, S.UNLEARNING, S.VERIFYING, S.COMPLETED]
    for a, b in itertools.pairwise(main_path):
        assert b in TRANSITIONS[a]
    for final in TERMINAL_STATUSES:
        assert TRANSITIONS[final] == frozenset()
    assert S.SCHEDULED in TRANSITIONS[S.FAILED]  # retry
    assert S.FAILED not in TERMINAL_STATUSES


def test_every_move_is_allowed_exactly_when_the_table_says(
    sqlite_url: str, key: SubjectKey, gdpr: Policy
) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        for i, (src, dst) in enumerate(ALL_MOVES):
            result = _submit(ledger, key, gdpr, who=f"subject-{i}")
            rid = result.request.request_id
            _walk(ledger, rid, *_PATH_TO[src])
            with ledger.session(write=False) as session:
                before = (requests.get(session, rid), requests.history(session, rid))
            if dst in TRANSITIONS[src]:
                _walk(ledger, rid, dst)
                with ledger.session(write=False) as session:
                    assert requests.get(session, rid).status == dst.value
                    assert requests.history(session, rid)[-1].to_status == dst.value
            else:
                with pytest.raises(IllegalTransitionError, match=f"from '{src.value}' to '{dst.value}'"):
                    _walk(ledger, rid, dst)
                with ledger.session(write=False) as session:
                    assert (requests.get(session, rid), requests.history(session, rid)) == before
    finally:
        ledger.dispose()


def test_history_keeps_time_actor_and_reason(ledger: Ledger, key: SubjectKey, gdpr: Policy) -> None:
    rid = _submit(ledger, key, gdpr).request.request_id
    later = NOW + timedelta(hours=1)
    with ledger.session() as session:
        requests.transition(
            session, request_id=rid, to="verified", actor="officer-7", reason="passport", now=later
        )
        denied = requests.transition(
            session, request_id=rid, to=S.DENIED, actor="officer-7", reason="legal hold"
        )
    assert denied.completed_at is not None and denied.outcome_reason == "legal hold"
    with ledger.session(write=False) as session:
        entries = requests.history(session, rid)
    assert [(e.from_status, e.to_status, e.actor, e.reason) for e in entries] == [
        (None, "received", "api", None),
        ("received", "verified", "officer-7", "passport"),
        ("verified", "denied", "officer-7", "legal hold"),
    ]
    assert entries[1].at == later


def test_unknown_request_and_status(sqlite_ledger: Ledger) -> None:
    ledger = sqlite_ledger
    with ledger.session() as session:
        with pytest.raises(NotFoundError):
            requests.transition(session, request_id="nope", to="verified", actor="t")
        with pytest.raises(InputError, match="'to' parameter"):
            requests.transition(session, request_id="nope", to="archived", actor="t")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2024, 1, 31, 9, 0, tzinfo=UTC), datetime(2024, 2, 29, 9, 0, tzinfo=UTC)),
        (datetime(2023, 1, 31, 9, 0, tzinfo=UTC), datetime(2023, 2, 28, 9, 0, tzinfo=UTC)),
        (datetime(2024, 3, 15, 9, 0, tzinfo=UTC), datetime(2024, 4, 15, 9, 0, tzinfo=UTC)),
        (datetime(2024, 12, 31, 9, 0, tzinfo=UTC), datetime(2025, 1, 31, 9, 0, tzinfo=UTC)),
    ],
)
def test_gdpr_deadline_is_one_calendar_month(
    sqlite_url: str, key: SubjectKey, gdpr: Policy, received: datetime, due: datetime
) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        assert _submit(ledger, key, gdpr, received_at=received, now=received).request.due_at == due
    finally:
        ledger.dispose()


def test_ccpa_deadline_is_45_days_plus_one_45_day_extension(
    sqlite_ledger: Ledger, key: SubjectKey, ccpa: Policy
) -> None:
    ledger = sqlite_ledger
    received = datetime(2024, 1, 31, 9, 0, tzinfo=UTC)
    r = _submit(ledger, key, ccpa, received_at=received, now=received).request
    assert r.due_at == received + timedelta(days=45)
    with ledger.session() as session:
        ext = requests.extend(
            session, request_id=r.request_id, reason="volume", policy=ccpa, actor="t", now=received
        )
    assert ext.due_at == received + timedelta(days=90)


def test_gdpr_extension_once_with_reason(ledger: Ledger, key: SubjectKey, gdpr: Policy) -> None:
    r = _submit(ledger, key, gdpr).request  # received 31 Jan 2024, due 29 Feb 2024
    with ledger.session() as session:
        with pytest.raises(InputError, match="'reason'"):
            requests.extend(session, request_id=r.request_id, reason="  ", policy=gdpr, actor="t", now=NOW)
        ext = requests.extend(
            session,
            request_id=r.request_id,
            reason="many systems involved",
            policy=gdpr,
            actor="dpo",
            now=NOW,
        )
    assert ext.due_at == datetime(2024, 4, 29, 12, 0, tzinfo=UTC)  # two further months
    assert (ext.extensions, ext.extension_reason, ext.extended_at) == (1, "many systems involved", NOW)
    with ledger.session() as session:
        with pytest.raises(ConflictError, match="already extended 1 time"):
            requests.extend(session, request_id=r.request_id, reason="again", policy=gdpr, actor="t", now=NOW)
        last = requests.history(session, r.request_id)[-1]
    assert last.from_status == last.to_status == "received"
    assert last.actor == "dpo" and "many systems involved" in (last.reason or "")


def test_extension_refused_after_the_deadline_or_when_final(
    sqlite_ledger: Ledger, key: SubjectKey, gdpr: Policy
) -> None:
    ledger = sqlite_ledger
    r = _submit(ledger, key, gdpr).request
    with ledger.session() as session, pytest.raises(ConflictError, match="before the deadline passes"):
        requests.extend(
            session,
            request_id=r.request_id,
            reason="late",
            policy=gdpr,
            actor="t",
            now=r.due_at + timedelta(seconds=1),
        )
    _walk(ledger, r.request_id, S.CANCELLED)
    with ledger.session() as session, pytest.raises(ConflictError, match="finished request"):
        requests.extend(session, request_id=r.request_id, reason="x", policy=gdpr, actor="t", now=NOW)


def test_overdue_lists_open_requests_past_due(
    ledger: Ledger, key: SubjectKey, gdpr: Policy, ccpa: Policy
) -> None:
    old = _submit(ledger, key, gdpr, who="a", received_at=NOW - timedelta(days=60)).request
    failed = _submit(ledger, key, gdpr, who="b", received_at=NOW - timedelta(days=50)).request
    done = _submit(ledger, key, gdpr, who="c", received_at=NOW - timedelta(days=70)).request
    fresh = _submit(ledger, key, ccpa, who="d", received_at=NOW - timedelta(days=10)).request
    _walk(ledger, failed.request_id, S.VERIFIED, S.SCHEDULED, S.FAILED)
    _walk(ledger, done.request_id, S.VERIFIED, S.NO_DATA)
    with ledger.session(write=False) as session:
        late = requests.overdue(session, now=NOW)
        assert [r.request_id for r in late] == [old.request_id, failed.request_id]
        assert fresh.request_id not in {r.request_id for r in late}
        by_policy = requests.list_requests(session, policy="ccpa")
        assert [r.request_id for r in by_policy] == [fresh.request_id]
        assert [r.request_id for r in requests.list_requests(session, status="no_data")] == [done.request_id]
        with pytest.raises(InputError, match="'status' parameter"):
            requests.list_requests(session, status="bogus")


def test_failed_request_can_be_retried(sqlite_ledger: Ledger, key: SubjectKey, gdpr: Policy) -> None:
    ledger = sqlite_ledger
    rid = _submit(ledger, key, gdpr).request.request_id
    _walk(
        ledger, rid, S.VERIFIED, S.SCHEDULED, S.UNLEARNING, S.FAILED, S.SCHEDULED, S.UNLEARNING, S.VERIFYING
    )
    _walk(ledger, rid, S.UNLEARNING, S.VERIFYING, S.COMPLETED)  # escalation, then success
    with ledger.session(write=False) as session:
        r = requests.get(session, rid)
        assert r.status == "completed" and r.completed_at is not None
        assert len(requests.history(session, rid)) == 11


def test_submit_validates_its_arguments(sqlite_ledger: Ledger, key: SubjectKey, gdpr: Policy) -> None:
    ledger = sqlite_ledger
    with pytest.raises(InputError, match="subject reference"):
        requests.submit(ledger, subject_ref="alice@example.com", policy=gdpr, received_at=NOW)
    with pytest.raises(InputError, match="timezone-aware"):
        requests.submit(ledger, subject_ref="a" * 64, policy=gdpr, received_at=datetime(2024, 1, 1))
    with pytest.raises(InputError, match="idempotency_key"):
        requests.submit(ledger, subject_ref="a" * 64, policy=gdpr, received_at=NOW, idempotency_key="k" * 201)
