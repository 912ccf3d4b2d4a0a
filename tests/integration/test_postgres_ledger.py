"""PostgreSQL specifics: driver, session time zone, COPY bulk path, row locks, parallel migration.

The lock tests hold the first transaction open and watch the server's lock table (``pg_blocking_pids``)
until the second transaction is either waiting behind the first or done. Which of the two happens is
decided by the locks alone, so the tests neither sleep nor depend on how loaded the machine is, and each
fails when the lock it tests is taken away.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from deletion_sdk.errors import IllegalTransitionError
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import lineage, requests
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.policy import load_policy

pytestmark = pytest.mark.postgres
KEY = SubjectKey(bytes(32))
NOW = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def test_plain_url_and_foreign_session_time_zone_still_give_utc(postgres_url: str) -> None:
    url = make_url(postgres_url).set(
        drivername="postgresql", query={"options": "-c TimeZone=America/New_York"}
    )
    ledger = Ledger.open(url.render_as_string(hide_password=False), create=True)
    try:
        assert ledger.engine.dialect.driver == "psycopg"
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TIME ZONE").scalar() == "America/New_York"
        result = requests.submit(
            ledger, subject_ref=subject_ref("a", KEY), policy=load_policy("ccpa"), received_at=NOW, now=NOW
        )
        with ledger.session(write=False) as session:
            stored = requests.get(session, result.request.request_id)
        assert stored.received_at == NOW and stored.received_at.utcoffset() is not None
        assert stored.received_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert stored.received_at.hour == 8
    finally:
        ledger.dispose()


def test_bulk_registration_and_resolution(postgres_url: str) -> None:
    ledger = Ledger.open(postgres_url, create=True)
    try:
        refs = [subject_ref(f"s{i}", KEY) for i in range(2_000)]
        rows = [
            ExampleInput(f"ex{i:06d}", refs[i % 2_000], hashlib.sha256(str(i).encode()).hexdigest(), 30.0)
            for i in range(20_000)
        ]
        record = lineage.register_examples(ledger, name="big", records=rows)
        assert (record.n_examples, record.n_subjects) == (20_000, 2_000)
        with ledger.session(write=False) as session:
            assert lineage.get_dataset(session, "big") == record
            forget = lineage.resolve_forget_set(session, subject_refs=refs[:50], dataset="big")
            assert lineage.examples_root(session, dataset="big") == record.examples_root
        assert forget.count == 500 and list(forget.example_ids) == sorted(forget.example_ids)
        assert forget.no_data_subject_refs == ()
    finally:
        ledger.dispose()


# The statement a backend is waiting on while another backend blocks it (None: it is not blocked by it).
_BLOCKED_BY = sa.text(
    "SELECT query FROM pg_stat_activity"
    " WHERE pid = :pid AND CAST(:holder AS integer) = ANY(pg_blocking_pids(:pid))"
)


def _backend_pid(session: Session) -> int:
    return int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _first_wait(thread: threading.Thread, monitor: sa.Engine, *, pid: int, holder: int) -> str | None:
    """The statement backend ``pid`` waits on behind ``holder``'s locks, or None if ``thread`` ends unblocked.

    Which of the two happens is decided by the server's locks, not by how fast either thread runs: the
    caller keeps ``holder``'s transaction open until this returns. (No deadline: pytest-timeout is the
    hang guard.)
    """
    while thread.is_alive():
        with monitor.connect() as conn:
            query = conn.execute(_BLOCKED_BY, {"pid": pid, "holder": holder}).scalar()
        if query is not None:
            return str(query)
        thread.join(0.01)
    return None


class _Second(threading.Thread):
    """Runs ``work(session)`` in its own transaction; reports its backend pid first, then the outcome."""

    def __init__(self, ledger: Ledger, work: Callable[[Session], object]) -> None:
        super().__init__(daemon=True)
        self.ledger, self.work = ledger, work
        self.pid: queue.Queue[int | BaseException] = queue.Queue()
        self.outcome: object = None

    def run(self) -> None:
        try:
            with self.ledger.session() as session:
                self.pid.put(_backend_pid(session))
                self.outcome = self.work(session)
        except BaseException as e:
            self.pid.put(e)  # unblocks the test if we failed before reporting the pid
            self.outcome = e

    def backend_pid(self) -> int:
        pid = self.pid.get()
        assert isinstance(pid, int), f"the second transaction failed before it started: {pid!r}"
        return pid


@pytest.fixture
def monitor(postgres_url: str) -> Iterator[sa.Engine]:
    """A separate autocommit connection for watching the server's lock table."""
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def test_a_concurrent_transition_waits_for_the_row_lock_before_it_reads(
    postgres_url: str, monitor: sa.Engine
) -> None:
    """Two transactions move one request received -> verified: the second waits before it reads the row.

    Only the row lock stops the second from reading 'received' while the first has moved the request on
    but not committed. Without ``FOR UPDATE`` the second reads the stale status, waits only at its UPDATE,
    and then moves the request a second time.
    """
    ledger = Ledger.open(postgres_url, create=True)
    try:
        rid = requests.submit(
            ledger,
            subject_ref=subject_ref("b", KEY),
            policy=load_policy("gdpr-art17"),
            received_at=NOW,
            now=NOW,
        ).request.request_id
        second = _Second(
            ledger, lambda s: requests.transition(s, request_id=rid, to="verified", actor="second")
        )
        with ledger.session() as session:
            first_pid = _backend_pid(session)
            requests.transition(session, request_id=rid, to="verified", actor="first")
            second.start()
            waited_at = _first_wait(second, monitor, pid=second.backend_pid(), holder=first_pid)
        second.join()
        assert waited_at is not None, f"the second transition never waited for the first: {second.outcome!r}"
        assert waited_at.lstrip().upper().startswith("SELECT") and "deletion_requests" in waited_at, (
            "the second transaction read the request while the first held it, "
            f"and waited only at: {waited_at}"
        )
        assert isinstance(second.outcome, IllegalTransitionError), second.outcome
        with ledger.session(write=False) as session:
            assert [(h.actor, h.to_status) for h in requests.history(session, rid)] == [
                ("api", "received"),
                ("first", "verified"),
            ]
    finally:
        ledger.dispose()


def test_concurrent_claims_skip_the_rows_the_other_holds(postgres_url: str, monitor: sa.Engine) -> None:
    """Workers of two models claim at once: the second takes the rows the first has not locked, at once.

    Without ``SKIP LOCKED`` the second claim reads the first's rows as still due and waits for them (and
    then fails on them); the first claim's transaction stays open until the second is done or waiting.
    """
    ledger = Ledger.open(postgres_url, create=True)
    try:
        policy = load_policy("gdpr-art17")
        rids = []
        for i in range(4):  # distinct deadlines: the claim order (earliest due first) is total
            received = NOW + timedelta(minutes=i)
            rid = requests.submit(
                ledger,
                subject_ref=subject_ref(f"c{i}", KEY),
                policy=policy,
                received_at=received,
                now=received,
            ).request.request_id
            with ledger.session() as session:
                requests.transition(session, request_id=rid, to="verified", actor="test")
            rids.append(rid)

        def claim(session: Session, model: str) -> jobq.JobRecord | None:
            jobq.lock_model(session, model)
            return jobq.claim_new_job(session, model_name=model, max_requests=2, worker=model)

        second = _Second(ledger, lambda s: claim(s, "model-b"))
        with ledger.session() as session:
            first_pid = _backend_pid(session)
            first = claim(session, "model-a")
            second.start()
            waited_at = _first_wait(second, monitor, pid=second.backend_pid(), holder=first_pid)
        second.join()
        assert waited_at is None, (
            f"the second claim waited for the first's rows instead of skipping them: {waited_at}"
        )
        assert isinstance(second.outcome, jobq.JobRecord), second.outcome
        assert first is not None
        with ledger.session(write=False) as session:
            claimed = [jobq.job_request_ids(session, job.job_id) for job in (first, second.outcome)]
            statuses = {requests.get(session, rid).status for rid in rids}
            scheduled = [
                h for rid in rids for h in requests.history(session, rid) if h.to_status == "scheduled"
            ]
        # no duplicate and nothing left: each claim took the earliest due rows it could lock
        assert claimed == [tuple(sorted(rids[:2])), tuple(sorted(rids[2:]))], claimed
        assert statuses == {"scheduled"} and len(scheduled) == 4
    finally:
        ledger.dispose()


def _migrate(url: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait()
        ledger = Ledger.open(url, create=True)
        results.put(ledger.current_revision())
        ledger.dispose()
    except BaseException as e:
        results.put(repr(e))
        barrier.abort()


@pytest.mark.slow
def test_parallel_first_opens_migrate_once(postgres_url: str, run_together: Callable[..., list[Any]]) -> None:
    revisions = run_together(_migrate, [(postgres_url,), (postgres_url,)])
    ledger = Ledger.open(postgres_url)
    try:
        assert revisions == [ledger.head_revision()] * 2
    finally:
        ledger.dispose()
