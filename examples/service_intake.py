"""Recording deletion requests from a web service (standard library only).

    POST /v1/deletion-requests        {"subject": "...", "policy": "gdpr-art17", "received_at": "..."}
                                      header Idempotency-Key: a retried POST returns the same request
        201 created · 200 already recorded (same key, or an open request of the same person and policy)
        400 bad input (one-line error naming the field) · 409 conflict
    GET  /v1/deletion-requests/<id>   status, due date and history (never the raw identifier)

Run a server:  python examples/service_intake.py --port 8080 --home ./.deletion_sdk
Self-test:     python examples/service_intake.py --self-test   (starts on a free port, posts, checks)

Production note: put this behind your authentication; the SDK's SQLite default serialises writers, use
DELETION_SDK_DATABASE_URL=postgresql://… for several service instances.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deletion_sdk import ConflictError, DeletionSDK, InputError, NotFoundError

PREFIX = "/v1/deletion-requests"


def make_handler(sdk: DeletionSDK) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()  # one SDK (one connection pool) shared by the server's threads

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # never log request bodies
            pass

        def do_POST(self) -> None:
            if self.path.rstrip("/") != PREFIX:
                return self._send(404, {"error": "not found"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not isinstance(body, dict):
                    raise InputError("the request body must be a JSON object")
                with lock:
                    result = sdk.submit_request(
                        subject=body.get("subject"),
                        policy=body.get("policy"),
                        received_at=body.get("received_at"),
                        idempotency_key=self.headers.get("Idempotency-Key"),
                        actor="service-intake",
                    )
            except (InputError, json.JSONDecodeError) as e:
                return self._send(400, {"error": str(e).splitlines()[0]})
            except ConflictError as e:
                return self._send(409, {"error": str(e).splitlines()[0]})
            record = result.request
            return self._send(
                201 if result.created else 200,
                {
                    "request_id": record.request_id,
                    "status": record.status,
                    "policy": record.policy,
                    "received_at": record.received_at,
                    "due_at": record.due_at,
                    "subject_ref": record.subject_ref,
                    "duplicate_of_open": result.duplicate_of_open,
                },
            )

        def do_GET(self) -> None:
            if not self.path.startswith(PREFIX + "/"):
                return self._send(404, {"error": "not found"})
            request_id = self.path[len(PREFIX) + 1 :]
            try:
                with lock:
                    record = sdk.get_request(request_id=request_id)
                    history = sdk.request_history(request_id=request_id)
            except (NotFoundError, InputError) as e:
                return self._send(404, {"error": str(e).splitlines()[0]})
            return self._send(
                200,
                {
                    **record.model_dump(mode="json", exclude={"idempotency_key"}),
                    "history": [h.model_dump(mode="json") for h in history],
                },
            )

    return Handler


def self_test() -> int:
    home = Path(tempfile.mkdtemp(prefix="deletion-sdk-intake-"))
    with DeletionSDK.open(home=home) as sdk:
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(sdk))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"

        def post(body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any]]:
            headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
            req = urllib.request.Request(base, data=json.dumps(body).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        first = post({"subject": "Alice@Example.com", "policy": "gdpr-art17"}, key="ticket-1")
        retry = post({"subject": "Alice@Example.com", "policy": "gdpr-art17"}, key="ticket-1")
        bad = post({"subject": "bob@example.com", "policy": "no-such-policy"})
        with urllib.request.urlopen(f"{base}/{first[1]['request_id']}") as resp:
            shown = json.loads(resp.read())
        server.shutdown()
    checks = {
        "created": first[0] == 201,
        "retry returns the same request": retry[0] == 200
        and retry[1]["request_id"] == first[1]["request_id"],
        "unknown policy is a 400 naming it": bad[0] == 400 and "no-such-policy" in bad[1]["error"],
        "no raw identifier in responses": "alice" not in json.dumps([first, retry, shown]).lower(),
        "no raw identifier in the database": b"alice" not in (home / "ledger.db").read_bytes().lower(),
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description="deletion-request intake service")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    with DeletionSDK.open(home=args.home) as sdk:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(sdk))
        print(f"listening on http://127.0.0.1:{args.port}{PREFIX}")
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
