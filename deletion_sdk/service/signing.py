"""Webhook signatures: HMAC-SHA256 over ``"<unix time>.<body>"``, sent with the time in one header.

The header reads ``Deletion-SDK-Signature: t=1735689600,v1=<64 hex digits>``. A receiver recomputes the HMAC
with its endpoint's secret over the timestamp, a dot and the raw request body (the exact bytes, before any
JSON parsing), compares in constant time, and refuses a timestamp older than its tolerance (replays)::

    from deletion_sdk.service import verify_webhook

    verify_webhook(secret=SECRET, body=request_body_bytes, header=request.headers["Deletion-SDK-Signature"])

Each endpoint's secret is derived from the deployment's subject key and a random per-endpoint salt
(HMAC-SHA256 under a label of its own), so the database holds nothing that can sign a webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from deletion_sdk.errors import SignatureError
from deletion_sdk.ledger.subjects import SubjectKey

__all__ = [
    "SIGNATURE_HEADER",
    "endpoint_secret",
    "sign_webhook",
    "verify_webhook",
]

SIGNATURE_HEADER = "Deletion-SDK-Signature"
EVENT_ID_HEADER = "Deletion-SDK-Event-Id"
EVENT_TYPE_HEADER = "Deletion-SDK-Event-Type"
SECRET_PREFIX = "whsec_"
_LABEL = b"deletion-sdk/webhook-endpoint-secret/v1\x00"


def endpoint_secret(subject_key: SubjectKey, salt: str) -> str:
    """The signing secret of the endpoint whose stored salt is ``salt``."""
    mac = hmac.new(subject_key.secret, _LABEL + salt.encode("ascii"), hashlib.sha256).hexdigest()
    return SECRET_PREFIX + mac


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_webhook(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (default: now)."""
    at = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={at},v1={_mac(secret, at, body)}"


def verify_webhook(
    *, secret: str, body: bytes, header: str | None, tolerance_s: float = 300.0, now: float | None = None
) -> int:
    """Check a received webhook's signature header.

    Args:
        secret: the endpoint's secret (``whsec_…``), as shown when the endpoint was added.
        body: the raw request body.
        header: the ``Deletion-SDK-Signature`` header value.
        tolerance_s: the oldest (and most future) timestamp accepted, in seconds.
        now: the current Unix time (tests pin it).

    Returns:
        The signed timestamp.

    Raises:
        SignatureError: missing or malformed header, a timestamp outside the tolerance, or no ``v1`` MAC
            that matches.
    """
    if not isinstance(header, str) or not header:
        raise SignatureError(f"the webhook has no {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise SignatureError(f"the {SIGNATURE_HEADER} header has no valid t=<unix time> field")
    timestamp = int(stamps[0])
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(
            f"the webhook was signed at {timestamp}, more than {tolerance_s:g} s from now ({int(current)}); "
            "refusing a possible replay"
        )
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", [])):
        raise SignatureError("the webhook signature does not match its body (wrong secret or altered body)")
    return timestamp
