"""Settings of the HTTP service (``deletion-sdk serve`` options), validated once at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServiceConfig"]


class ServiceConfig(BaseModel):
    """How the service limits clients and delivers webhooks.

    Attributes:
        max_body_bytes: largest request body accepted (413 above it).
        rate_limit_per_s: requests per second each token may make on average (None: no limit).
        rate_burst: requests a token may make at once before the average applies.
        deliver_webhooks: run the webhook delivery worker inside the server.
        webhook_max_attempts: attempts before a delivery moves to the dead letters.
        webhook_backoff_s: wait before the first retry; each later retry waits twice as long.
        webhook_backoff_max_s: the longest wait between two attempts.
        webhook_timeout_s: how long one POST to a receiver may take.
        webhook_poll_s: how often the worker looks for due deliveries.
        webhook_batch: deliveries claimed per round.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(default=16_384, ge=256, le=10_485_760)
    rate_limit_per_s: float | None = Field(default=50.0, gt=0)
    rate_burst: int = Field(default=100, ge=1)
    deliver_webhooks: bool = True
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_s: float = Field(default=2.0, gt=0)
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_poll_s: float = Field(default=1.0, gt=0)
    webhook_batch: int = Field(default=50, ge=1, le=1000)

    def retry_delay_s(self, attempts: int) -> float:
        """Seconds to wait after failed attempt ``attempts`` (1, 2, …): base × 2^(attempts-1), capped."""
        return float(min(self.webhook_backoff_s * 2 ** max(attempts - 1, 0), self.webhook_backoff_max_s))
