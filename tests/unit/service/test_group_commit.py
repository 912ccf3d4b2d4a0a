"""Group commit in the service: concurrent submissions share a transaction, each keeps its own answer.

Real SQLite file and real PostgreSQL (``db_url``). Group composition is made deterministic by holding the
writer inside its first group until the other submissions are queued (a condition, never a sleep).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from deletion_sdk.errors import AuthenticationError, ConflictError, InputError, UnknownPolicyError
from deletion_sdk.ledger.records import SubmitResult
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import ServiceAdmin, ServiceConfig, create_app
from deletion_sdk.service.batching import IntakeBatcher, Submission

RAW = "philippa.quenby+group@example.net"  # distinctive: grepped for in the database


@pytest.fixture
def sdk(db_url: str, tmp_path: Path) -> Iterator[DeletionSDK]:
    with DeletionSDK.open(home=tmp_path / "home", database_url=db_url) as opened:
        ServiceAdmin(opened).add_webhook(url="http://127.0.0.1:9/hook")
        yield opened


def _count(sdk: DeletionSDK, table: str) -> int:
    with sdk.ledger.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


class _Held(IntakeBatcher):
    """A batcher whose first group waits in the writer thread until the test lets it go."""

    def __init__(self, sdk: DeletionSDK) -> None:
        super().__init__(sdk, admit=lambda token: token)
        self.release = threading.Event()
        self.sizes: list[int] = []

    def write(self, submissions: Sequence[Submission]):  # type: ignore[no-untyped-def]
        self.sizes.append(len(submissions))
        if len(self.sizes) == 1:
            assert self.release.wait(timeout=120), "the test never released the first group"
        return super().write(submissions)


async def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for a condition (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + 120
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.001)


async def _submit_while_held(batcher: _Held, submissions: list[Submission]) -> list[object]:
    """The first submission is written alone and held; every other one arrives meanwhile."""
    tasks = [asyncio.ensure_future(batcher.submit(submissions[0]))]
    await _until(lambda: batcher.sizes == [1], "the writer to hold the first group")
    tasks += [asyncio.ensure_future(batcher.submit(s)) for s in submissions[1:]]
    await _until(lambda: len(batcher._pending) == len(submissions) - 1, "the others to queue")
    batcher.release.set()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def test_concurrent_submissions_share_one_transaction_and_keep_their_own_answers(sdk: DeletionSDK) -> None:
    batcher = _Held(sdk)
    tok = ServiceAdmin(sdk).create_token(name="intake", scope="intake")
    forged = tok.token[:-1] + ("A" if tok.token[-1] != "A" else "B")
    before = sdk.audit_log.size()
    commits = [0]
    sa.event.listen(sdk.ledger.engine, "commit", lambda _c: commits.__setitem__(0, commits[0] + 1))
    subs = [Submission(tok.token, f"p{i}@example.org", "gdpr-art17", None, f"key-{i}") for i in range(10)]
    subs += [
        Submission(tok.token, "p1@example.org", "gdpr-art17", None, "key-1"),  # 10: replay of 1 (same group)
        Submission(tok.token, "other@example.org", "gdpr-art17", None, "key-2"),  # 11: key of 2, other person
        Submission(tok.token, "p3@example.org", "no-such-policy", None, "key-x"),  # 12: unknown policy
        Submission(tok.token, RAW, "gdpr-art17", "2999-01-01", "key-y"),  # 13: received in the future
        Submission(tok.token, RAW, "gdpr-art17", None, RAW, verified=True),  # 14: verified at intake
        Submission(forged, "p9@example.org", "gdpr-art17", None, "key-f"),  # 15: a forged token
        Submission(forged, "p9@example.org", "no-such-policy", None, "key-g"),  # 16: forged + unknown policy
    ]
    try:
        out = asyncio.run(_submit_while_held(batcher, subs))
    finally:
        batcher.close()
    assert batcher.sizes == [1, len(subs) - 1]  # the first alone, every later one in one group
    assert commits[0] == 2  # one transaction per group (tokens checked inside it), for 17 submissions
    results = [o if isinstance(o, SubmitResult) else None for o in out]
    assert all(r is not None and r.created for r in results[:10])
    ids = [r.request.request_id for r in results[:10] if r is not None]
    assert len(set(ids)) == 10
    replay = results[10]
    assert replay is not None and not replay.created and replay.request.request_id == ids[1]
    assert isinstance(out[11], ConflictError)
    assert isinstance(out[12], UnknownPolicyError)
    assert isinstance(out[13], InputError) and "future" in str(out[13]) and RAW not in str(out[13])
    verified = results[14]
    assert verified is not None and verified.created and verified.request.status == "verified"
    assert isinstance(out[15], AuthenticationError)
    assert isinstance(out[16], AuthenticationError)  # refused before anything is said about its request
    actors = {
        h.actor
        for r in results
        if r is not None
        for h in sdk.request_history(request_id=r.request.request_id)
    }
    assert actors == {tok.record.actor}  # attributed to the token that submitted them
    assert _count(sdk, "deletion_requests") == 11 and _count(sdk, "webhook_deliveries") == 12
    types = [e.event.type for e in sdk.audit_log.entries(start=before)]
    assert types.count("request.received") == 11 and types.count("request.status_changed") == 1
    sdk.verify_audit_log()
    with sdk.ledger.engine.connect() as conn:  # the identifier and the key it was used as: hashes only
        for table in ("deletion_requests", "request_history", "audit_entries", "webhook_deliveries"):
            assert RAW not in repr(conn.exec_driver_sql(f"SELECT * FROM {table}").all()), table


def test_concurrent_http_submissions_each_get_their_own_status(sdk: DeletionSDK) -> None:
    token = ServiceAdmin(sdk).create_token(name="web", scope="intake").token
    app = create_app(sdk, config=ServiceConfig(deliver_webhooks=False, rate_limit_per_s=None))

    async def post(client: httpx.AsyncClient, subject: str, key: str, auth: str = token) -> httpx.Response:
        return await client.post(
            "/v1/requests",
            json={"subject": subject, "policy": "gdpr-art17"},
            headers={"Authorization": f"Bearer {auth}", "Idempotency-Key": key},
        )

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            calls = [post(client, f"h{i}@example.org", f"h-{i}") for i in range(8)]
            calls += [post(client, f"h{i}@example.org", f"h-{i}") for i in range(8)]  # each key twice at once
            calls += [post(client, "intruder@example.org", "h-0")]  # another person's key: 409
            calls += [post(client, "x@example.org", "h-z", auth=token[:-1] + "A")]  # wrong secret: 401
            return list(await asyncio.gather(*calls))

    try:
        answers = asyncio.run(scenario())
    finally:
        app.state.service.close()
    by_key: dict[str, list[httpx.Response]] = {}
    for i, r in enumerate(answers[:16]):
        assert r.status_code in (200, 201), r.text
        by_key.setdefault(f"h-{i % 8}", []).append(r)
    for key, pair in by_key.items():
        assert len({r.json()["request"]["request_id"] for r in pair}) == 1, key  # both name one request
        assert sorted(r.status_code for r in pair) == [200, 201], key  # exactly one created it
    assert answers[16].status_code == 409 and answers[16].json()["error"]["type"] == "ConflictError"
    assert answers[17].status_code == 401 and answers[17].headers["WWW-Authenticate"] == "Bearer"
    assert _count(sdk, "deletion_requests") == 8


def test_intake_tokens_are_checked_live_and_rate_limited_before_anything_is_recorded(
    sdk: DeletionSDK,
) -> None:
    admin = ServiceAdmin(sdk)
    token = admin.create_token(name="web", scope="intake")
    config = ServiceConfig(deliver_webhooks=False, rate_limit_per_s=0.001, rate_burst=2)
    app = create_app(sdk, config=config)

    def post(client: TestClient, key: str) -> httpx.Response:
        return client.post(
            "/v1/requests",
            json={"subject": f"{key}@example.org", "policy": "gdpr-art17"},
            headers={"Authorization": f"Bearer {token.token}", "Idempotency-Key": key},
        )

    with TestClient(app) as client:
        assert [post(client, k).status_code for k in ("r1", "r2", "r3")] == [201, 201, 429]
        admin.revoke_token(token_id=token.record.token_id)
        revoked = post(client, "r4")
        assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
        missing = client.post("/v1/requests", json={}, headers={"Idempotency-Key": "r5"})
        assert missing.status_code == 401  # no token: refused before the body is looked at
    assert _count(sdk, "deletion_requests") == 2
