"""The webhook delivery worker: post due outbox rows, sign them, retry with exponential backoff.

One round (:meth:`WebhookDeliverer.deliver_due`) claims due deliveries, posts each to its endpoint with a
fresh signature, and records the outcome: a 2xx answer marks it delivered; anything else (an error status,
a timeout, a refused connection) schedules the next attempt ``retry_delay_s(attempts)`` later, and the last
allowed attempt moves it to the dead letters. ``deletion-sdk serve`` runs rounds on a background thread
(:meth:`start`); ``deletion-sdk webhooks deliver`` runs one round.

Delivery is at least once: a receiver that answers after the lease ran out, or a worker killed between the
POST and recording it, can cause a second delivery of the same event id. Receivers deduplicate on
``Deletion-SDK-Event-Id``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from deletion_sdk.ledger import webhooks
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.webhooks import DeliveryRecord
from deletion_sdk.logging import get_logger
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service.config import ServiceConfig
from deletion_sdk.service.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    endpoint_secret,
    sign_webhook,
)

__all__ = ["DeliveryRound", "WebhookDeliverer"]


def _log() -> Any:
    return get_logger(__name__)


class DeliveryRound(BaseModel):
    """What one round did."""

    model_config = ConfigDict(frozen=True)

    attempted: int
    delivered: int
    retried: int
    dead_lettered: int


class WebhookDeliverer:
    """Posts the webhook outbox of one deployment.

    Args:
        sdk: the deployment (its ledger holds the outbox; its subject key derives endpoint secrets).
        config: attempts, backoff, timeout, batch size.
        client: the HTTP client (default: a new one with ``config.webhook_timeout_s``, no redirects).
    """

    def __init__(
        self, sdk: DeletionSDK, *, config: ServiceConfig, client: httpx.Client | None = None
    ) -> None:
        self.sdk = sdk
        self.config = config
        self.client = client or httpx.Client(timeout=config.webhook_timeout_s, follow_redirects=False)
        self._owns_client = client is None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_due(self, *, now: datetime | None = None) -> DeliveryRound:
        """Claim the due deliveries and post each once.

        Args:
            now: the time deliveries are due by and retries are scheduled from (tests move it forward).
        """
        stamp = now or utcnow()
        lease = self.config.webhook_timeout_s * 2 + 5
        claimed = webhooks.claim_due(
            self.sdk.ledger, limit=self.config.webhook_batch, lease_s=lease, now=stamp
        )
        delivered = retried = dead = 0
        secrets: dict[str, tuple[str, str]] = {}
        for delivery in claimed:
            if delivery.endpoint_id not in secrets:
                with self.sdk.ledger.session(write=False) as session:
                    endpoint = webhooks.get_endpoint(session, delivery.endpoint_id)
                secrets[delivery.endpoint_id] = (
                    endpoint.url,
                    endpoint_secret(self.sdk.subject_key, endpoint.secret_salt),
                )
            url, secret = secrets[delivery.endpoint_id]
            error = self._post(url, secret, delivery)
            if error is None:
                webhooks.record_success(self.sdk.ledger, delivery_id=delivery.delivery_id, now=stamp)
                delivered += 1
                continue
            attempts = delivery.attempts + 1
            retry_at = (
                None
                if attempts >= self.config.webhook_max_attempts
                else stamp + timedelta(seconds=self.config.retry_delay_s(attempts))
            )
            webhooks.record_failure(
                self.sdk.ledger, delivery_id=delivery.delivery_id, error=error, retry_at=retry_at, now=stamp
            )
            if retry_at is None:
                dead += 1
                _log().warning(
                    "webhook.dead_lettered",
                    delivery_id=delivery.delivery_id,
                    endpoint_id=delivery.endpoint_id,
                    attempts=attempts,
                )
            else:
                retried += 1
        return DeliveryRound(attempted=len(claimed), delivered=delivered, retried=retried, dead_lettered=dead)

    def drain(self, *, now: datetime | None = None) -> DeliveryRound:
        """Run rounds until one finds fewer due deliveries than a full batch; the rounds' totals."""
        totals = DeliveryRound(attempted=0, delivered=0, retried=0, dead_lettered=0)
        while True:
            one = self.deliver_due(now=now)
            totals = DeliveryRound(
                attempted=totals.attempted + one.attempted,
                delivered=totals.delivered + one.delivered,
                retried=totals.retried + one.retried,
                dead_lettered=totals.dead_lettered + one.dead_lettered,
            )
            if one.attempted < self.config.webhook_batch:
                return totals

    def _post(self, url: str, secret: str, delivery: DeliveryRecord) -> str | None:
        """POST one delivery; None on a 2xx answer, else a one-line reason (never the response body)."""
        body = delivery.payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "deletion-sdk-webhooks/1",
            SIGNATURE_HEADER: sign_webhook(secret=secret, body=body),
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.event_type,
        }
        try:
            response = self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    # -- background worker ----------------------------------------------------------------------------

    def run(self) -> None:
        """Deliver rounds until :meth:`stop` is called (a round that fails is logged and retried)."""
        while not self._stop.is_set():
            try:
                busy = self.deliver_due().attempted >= self.config.webhook_batch
            except Exception as e:  # keep the worker alive across a database hiccup
                _log().warning("webhook.round_failed", error_type=type(e).__name__)
                busy = False
            if not busy:
                self._stop.wait(self.config.webhook_poll_s)

    def start(self) -> None:
        """Run :meth:`run` on a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="deletion-sdk-webhooks", daemon=True)
        self._thread.start()

    def stop(self, *, timeout_s: float | None = None) -> None:
        """Stop the background thread (after its current round) and close the client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s if timeout_s is not None else self.config.webhook_timeout_s + 5)
            self._thread = None
        if self._owns_client:
            self.client.close()
