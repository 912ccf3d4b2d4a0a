"""A webhook receiver on loopback, written as a customer would: verify the signature, then answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deletion_sdk.errors import SignatureError
from deletion_sdk.service import SIGNATURE_HEADER, verify_webhook


@dataclass
class Receiver:
    """Answers ``script`` statuses in turn (then 204); a bad signature is always answered 400."""

    secret: str = ""
    script: list[int] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    calls: int = 0
    url: str = ""

    def handle(self, headers: Any, body: bytes) -> int:
        self.calls += 1
        try:
            verify_webhook(secret=self.secret, body=body, header=headers.get(SIGNATURE_HEADER))
        except SignatureError as e:
            self.refused.append(str(e))
            return 400
        status = self.script.pop(0) if self.script else 204
        if 200 <= status < 300:
            event = json.loads(body)
            assert headers.get("Deletion-SDK-Event-Id") == event["id"]
            self.accepted.append(event)
        return status


@contextmanager
def running_receiver(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.handle(self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/deletion"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
