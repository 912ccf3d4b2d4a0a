"""Administering one deployment's service: API tokens, webhook endpoints, their outbox and dead letters.

Used by ``deletion-sdk tokens …`` / ``deletion-sdk webhooks …`` and by the admin routes; needs no web
framework::

    with DeletionSDK.open(home=HOME) as sdk:
        admin = ServiceAdmin(sdk)
        token = admin.create_token(name="web-intake", scope="intake").token   # shown once
        hook = admin.add_webhook(url="https://crm.example/hooks/deletion")    # hook.secret shown once
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from deletion_sdk._facade.base import text_arg
from deletion_sdk.ledger import api_tokens, webhooks
from deletion_sdk.ledger.api_tokens import CreatedToken, Scope, TokenRecord
from deletion_sdk.ledger.webhooks import DeadLetterRecord, DeliveryRecord, EndpointRecord
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service.signing import endpoint_secret

__all__ = ["NewEndpoint", "ServiceAdmin"]


class NewEndpoint(BaseModel):
    """A new webhook endpoint and its signing secret (shown once; derived, never stored)."""

    model_config = ConfigDict(frozen=True)

    endpoint: EndpointRecord
    secret: str


class ServiceAdmin:
    """Tokens and webhooks of ``sdk``'s deployment.

    Args:
        sdk: the open deployment.
        actor: recorded in the audit log for every change made through this object.
    """

    def __init__(self, sdk: DeletionSDK, *, actor: str = "cli") -> None:
        self.sdk = sdk
        self.actor = text_arg(actor, "actor", what="a non-empty actor name")

    # -- tokens ---------------------------------------------------------------------------------------

    def create_token(self, *, name: str, scope: Scope | str) -> CreatedToken:
        """A new API token; ``.token`` is the only copy of its secret."""
        return api_tokens.create_token(self.sdk.ledger, name=name, scope=scope, actor=self.actor)

    def list_tokens(self, *, include_revoked: bool = True) -> tuple[TokenRecord, ...]:
        """Tokens, oldest first (never their secrets)."""
        with self.sdk.ledger.session(write=False) as session:
            return api_tokens.list_tokens(session, include_revoked=include_revoked)

    def revoke_token(self, *, token_id: str) -> TokenRecord:
        """Revoke a token (effective on the server's next request)."""
        return api_tokens.revoke_token(
            self.sdk.ledger, token_id=text_arg(token_id, "token_id", what="a token id"), actor=self.actor
        )

    # -- webhooks -------------------------------------------------------------------------------------

    def add_webhook(self, *, url: str, events: Sequence[str] | None = None) -> NewEndpoint:
        """Register a receiver; every later request change it subscribes to is queued for it."""
        endpoint = webhooks.add_endpoint(self.sdk.ledger, url=url, events=events, actor=self.actor)
        return NewEndpoint(endpoint=endpoint, secret=self.webhook_secret(endpoint_id=endpoint.endpoint_id))

    def webhook_secret(self, *, endpoint_id: str) -> str:
        """The endpoint's signing secret (derived again from the subject key and the endpoint's salt)."""
        with self.sdk.ledger.session(write=False) as session:
            endpoint = webhooks.get_endpoint(session, endpoint_id)
        return endpoint_secret(self.sdk.subject_key, endpoint.secret_salt)

    def list_webhooks(self, *, include_disabled: bool = True) -> tuple[EndpointRecord, ...]:
        with self.sdk.ledger.session(write=False) as session:
            return webhooks.list_endpoints(session, include_disabled=include_disabled)

    def disable_webhook(self, *, endpoint_id: str) -> EndpointRecord:
        """Stop queueing new events for an endpoint (queued deliveries still go out)."""
        return webhooks.disable_endpoint(self.sdk.ledger, endpoint_id=endpoint_id, actor=self.actor)

    def deliveries(
        self, *, status: str | None = None, limit: int | None = None
    ) -> tuple[DeliveryRecord, ...]:
        """Outbox rows, oldest first."""
        with self.sdk.ledger.session(write=False) as session:
            return webhooks.list_deliveries(session, status=status, limit=limit)

    def dead_letters(self, *, limit: int | None = None) -> tuple[DeadLetterRecord, ...]:
        """Deliveries that failed every attempt, oldest first."""
        with self.sdk.ledger.session(write=False) as session:
            return webhooks.list_dead_letters(session, limit=limit)

    def requeue_dead_letter(self, *, dead_letter_id: int) -> DeliveryRecord:
        """Queue a dead letter again (same event id and payload, attempts from zero)."""
        return webhooks.requeue_dead_letter(self.sdk.ledger, dead_letter_id=dead_letter_id, actor=self.actor)
