"""``deletion-sdk serve`` for real: uvicorn on loopback, SQLite and PostgreSQL, concurrent idempotent replays.

The end-to-end test starts the console command in a subprocess, submits and reviews a request over HTTP,
and waits for the background webhook worker to post both changes to a receiver that checks signatures. The
replay test sends every idempotency key several times at once from many threads and checks the ledger: one
request per key, every answer naming it, exactly one ``created``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import ServiceAdmin, ServiceConfig, create_app
from tests.unit.service.receiver import Receiver, running_receiver

SUBJECT = "ulrike.vance+serve@example.net"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(home: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "deletion_sdk.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _poll(check, *, what: str, limit_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``check()`` holds (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_serve_end_to_end_on_loopback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _cli(home, "init")
    intake = json.loads(_cli(home, "tokens", "create", "--scope", "intake", "--name", "web", "--json"))[
        "token"
    ]
    officer = json.loads(_cli(home, "tokens", "create", "--scope", "officer", "--name", "desk", "--json"))[
        "token"
    ]
    with running_receiver(Receiver()) as receiver:
        receiver.secret = json.loads(_cli(home, "webhooks", "add", receiver.url, "--json"))["secret"]
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "deletion_sdk.cli", "--home", str(home), "serve", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "DELETION_SDK_DEBUG": "0"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _poll(lambda: server.poll() is not None or _ready(base), what="the server to be ready")
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            with httpx.Client(base_url=base, timeout=30) as client:
                created = client.post(
                    "/v1/requests",
                    json={"subject": SUBJECT, "policy": "gdpr-art17"},
                    headers={"Authorization": f"Bearer {intake}", "Idempotency-Key": "form-17"},
                )
                assert created.status_code == 201
                rid = created.json()["request"]["request_id"]
                assert client.get(f"/v1/requests/{rid}").status_code == 401
                verified = client.post(
                    f"/v1/requests/{rid}/verify", headers={"Authorization": f"Bearer {officer}"}
                )
                assert verified.json()["status"] == "verified"
                assert client.get("/openapi.json").json()["info"]["title"] == "deletion-sdk intake service"
            _poll(lambda: len(receiver.accepted) >= 2, what="the webhook worker to deliver both changes")
        finally:
            server.send_signal(signal.SIGTERM)
            out, err = server.communicate(timeout=60)
    # uvicorn shuts down gracefully (lifespan: the webhook worker stops), then re-raises the signal
    assert server.returncode in (0, -signal.SIGTERM), err
    assert [e["type"] for e in receiver.accepted] == ["request.received", "request.status_changed"]
    assert all(e["data"]["request_id"] == rid for e in receiver.accepted) and receiver.refused == []
    assert SUBJECT not in out + err
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert SUBJECT.encode() not in stored


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, DeletionSDK, str]]:
    """The app on uvicorn in this process (a thread), on a real SQLite file or PostgreSQL database."""
    with DeletionSDK.open(home=tmp_path / "home", database_url=db_url) as sdk:
        token = ServiceAdmin(sdk).create_token(name="load", scope="intake").token
        app = create_app(sdk, config=ServiceConfig(deliver_webhooks=False, rate_limit_per_s=None))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        _poll(lambda: _ready(base), what="the server to be ready")
        try:
            yield base, sdk, token
        finally:
            server.should_exit = True
            thread.join(timeout=60)


def test_concurrent_replays_of_the_same_keys_record_each_request_once(
    served: tuple[str, DeletionSDK, str],
) -> None:
    base, sdk, token = served
    keys, copies = 6, 8
    jobs = [k for k in range(keys) for _ in range(copies)]

    def send(k: int) -> tuple[int, int, str, bool]:
        with httpx.Client(base_url=base, timeout=120) as client:
            r = client.post(
                "/v1/requests",
                json={"subject": f"person-{k}@example.org", "policy": "gdpr-art17"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"replay-{k}"},
            )
        body = r.json()
        assert r.status_code in (200, 201), r.text
        return k, r.status_code, body["request"]["request_id"], body["created"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(send, jobs))
    assert {status for _, status, _, _ in answers} <= {200, 201}
    stored = sdk.list_requests()
    assert len(stored) == keys  # zero duplicated
    for k in range(keys):
        mine = [(rid, created) for key, _, rid, created in answers if key == k]
        assert len({rid for rid, _ in mine}) == 1  # every answer names the same request
        assert sum(created for _, created in mine) == 1  # exactly one said "created"
        assert mine[0][0] in {r.request_id for r in stored}  # zero lost


@pytest.mark.postgres
def test_outbox_claims_and_delivery_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    from datetime import timedelta

    from deletion_sdk.ledger import webhooks
    from deletion_sdk.ledger._types import utcnow
    from deletion_sdk.service import WebhookDeliverer

    with (
        DeletionSDK.open(home=tmp_path / "home", database_url=postgres_url) as sdk,
        running_receiver(Receiver()) as receiver,
    ):
        receiver.secret = ServiceAdmin(sdk).add_webhook(url=receiver.url).secret
        for i in range(3):
            sdk.submit_request(subject=f"pg-{i}@example.org", policy="ccpa")
        t0 = utcnow()
        first = webhooks.claim_due(sdk.ledger, limit=2, lease_s=60, now=t0)
        second = webhooks.claim_due(sdk.ledger, limit=10, lease_s=60, now=t0)
        assert len(first) == 2 and len(second) == 1  # leased rows are skipped, not claimed twice
        assert not {d.delivery_id for d in first} & {d.delivery_id for d in second}
        deliverer = WebhookDeliverer(sdk, config=ServiceConfig(deliver_webhooks=False))
        try:
            assert deliverer.deliver_due(now=t0 + timedelta(seconds=61)).delivered == 3  # leases ran out
        finally:
            deliverer.stop()
    assert len(receiver.accepted) == 3 and receiver.refused == []
