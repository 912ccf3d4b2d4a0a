"""Recording deletion requests over HTTP with ``deletion-sdk serve``, and receiving its signed webhooks.

Against a running service (``deletion-sdk tokens create --scope intake --name web`` gives the token)::

    deletion-sdk serve --port 8080 &
    python examples/service_intake.py --url http://127.0.0.1:8080 --token dsk_… --subject alice@example.com

Self-contained (a temporary deployment, the service on a free loopback port, a webhook receiver)::

    python examples/service_intake.py --self-test

The self-test submits a request with an Idempotency-Key, sends it again (same request back), reads its
status and history, verifies the requester's identity with an officer token, and checks that both changes
reached the webhook receiver with valid signatures. It prints ``ok`` lines, or ``FAIL`` and exits 1.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from deletion_sdk import DeletionSDK
from deletion_sdk.errors import SignatureError
from deletion_sdk.service import SIGNATURE_HEADER, ServiceAdmin, ServiceConfig, create_app, verify_webhook


def submit(url: str, token: str, *, subject: str, policy: str, key: str) -> dict[str, Any]:
    """POST one request; the same ``key`` again returns the same request (safe to retry)."""
    response = httpx.post(
        f"{url}/v1/requests",
        json={"subject": subject, "policy": policy},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json())


def start_receiver(
    secret_box: dict[str, str], events: list[dict[str, Any]]
) -> tuple[ThreadingHTTPServer, str]:
    """A webhook receiver: checks each POST's signature with the endpoint's secret before trusting it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                verify_webhook(
                    secret=secret_box["secret"], body=body, header=self.headers.get(SIGNATURE_HEADER)
                )
            except SignatureError:
                self.send_response(400)
            else:
                events.append(json.loads(body))  # deduplicate on events[i]["id"] in a real receiver
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, limit_s: float = 60.0) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def self_test() -> int:
    failures = 0

    def report(ok: bool, what: str) -> None:
        nonlocal failures
        print(("ok    " if ok else "FAIL  ") + what)
        failures += 0 if ok else 1

    events: list[dict[str, Any]] = []
    secret_box: dict[str, str] = {}
    receiver, hook_url = start_receiver(secret_box, events)
    with tempfile.TemporaryDirectory() as tmp, DeletionSDK.open(home=Path(tmp) / "home") as sdk:
        admin = ServiceAdmin(sdk)
        intake = admin.create_token(name="web-form", scope="intake").token
        officer = admin.create_token(name="privacy-desk", scope="officer").token
        secret_box["secret"] = admin.add_webhook(url=hook_url).secret
        config = ServiceConfig(webhook_poll_s=0.2)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(sdk, config=config), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        try:
            report(_wait(lambda: server.started), "service started on loopback")
            key = str(uuid.uuid4())
            first = submit(url, intake, subject="alice@example.com", policy="gdpr-art17", key=key)
            again = submit(url, intake, subject="alice@example.com", policy="gdpr-art17", key=key)
            rid = first["request"]["request_id"]
            report(first["created"] and not again["created"], "a retried POST returns the same request")
            report(again["request"]["request_id"] == rid, f"request {rid} due {first['request']['due_at']}")
            denied = httpx.post(
                f"{url}/v1/requests/{rid}/verify", headers={"Authorization": f"Bearer {intake}"}
            )
            report(denied.status_code == 403, "an intake token may not verify identities (403)")
            verified = httpx.post(
                f"{url}/v1/requests/{rid}/verify",
                json={"reason": "signed-in account"},
                headers={"Authorization": f"Bearer {officer}"},
            )
            report(verified.json()["status"] == "verified", "an officer token verified the identity")
            detail = httpx.get(
                f"{url}/v1/requests/{rid}", headers={"Authorization": f"Bearer {intake}"}
            ).json()
            report(len(detail["history"]) == 2, f"history: {[h['to_status'] for h in detail['history']]}")
            report("alice" not in json.dumps(detail), "the answer never holds the raw identifier")
            report(_wait(lambda: len(events) >= 2), "both changes arrived as signed webhooks")
            report([e["type"] for e in events] == ["request.received", "request.status_changed"], "in order")
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            receiver.shutdown()
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description="submit a deletion request to deletion-sdk serve")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token", help="an intake token from `deletion-sdk tokens create --scope intake`")
    parser.add_argument("--subject", help="the person's identifier")
    parser.add_argument("--policy", default="gdpr-art17")
    parser.add_argument("--key", default=None, help="Idempotency-Key (default: a new UUID)")
    parser.add_argument("--self-test", action="store_true", help="run everything locally and check it")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if not args.token or not args.subject:
        parser.error("--token and --subject are required (or use --self-test)")
    answer = submit(
        args.url, args.token, subject=args.subject, policy=args.policy, key=args.key or str(uuid.uuid4())
    )
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
