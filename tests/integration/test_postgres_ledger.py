"""PostgreSQL specifics: driver, session time zone, COPY bulk path, row locks, parallel migration."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from deletion_sdk.errors import IllegalTransitionError
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


def test_concurrent_transitions_are_serialised_by_row_locks(postgres_url: str) -> None:
    ledger = Ledger.open(postgres_url, create=True)
    try:
        rid = requests.submit(
            ledger,
            subject_ref=subject_ref("b", KEY),
            policy=load_policy("gdpr-art17"),
            received_at=NOW,
            now=NOW,
        ).request.request_id
        outcome: dict[str, Any] = {}
        locked = threading.Event()

        def second() -> None:
            locked.wait(10)
            try:
                with ledger.session() as session:
                    requests.transition(session, request_id=rid, to="verified", actor="second")
                outcome["second"] = "moved"
            except IllegalTransitionError as e:
                outcome["second"] = e

        thread = threading.Thread(target=second)
        thread.start()
        with ledger.session() as session:
            requests.transition(session, request_id=rid, to="verified", actor="first")
            locked.set()
            time.sleep(0.5)  # the second transaction is now waiting for our row lock
        thread.join(10)
        assert isinstance(outcome["second"], IllegalTransitionError)
        with ledger.session(write=False) as session:
            assert [h.actor for h in requests.history(session, rid)] == ["api", "first"]
    finally:
        ledger.dispose()


def _migrate(url: str, barrier: Any, queue: Any) -> None:
    try:
        barrier.wait(timeout=60)
        ledger = Ledger.open(url, create=True)
        queue.put(ledger.current_revision())
        ledger.dispose()
    except BaseException as e:
        queue.put(repr(e))


@pytest.mark.slow
def test_parallel_first_opens_migrate_once(postgres_url: str) -> None:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_migrate, args=(postgres_url, barrier, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    revisions = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    ledger = Ledger.open(postgres_url)
    try:
        assert revisions == [ledger.head_revision()] * 2
    finally:
        ledger.dispose()
