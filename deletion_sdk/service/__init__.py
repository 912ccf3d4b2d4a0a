"""The HTTP intake service (``deletion-sdk serve``): a FastAPI app over one deployment.

=================  ================================================================================
``app``            :func:`create_app`: routes, error answers, limits, health and readiness
``api_requests``   ``/v1/requests``: submit (Idempotency-Key), status and history, review
``api_records``    ``/v1/jobs``, certificates, ``/v1/audit`` checkpoint and inclusion proofs
``api_admin``      ``/v1/webhooks``: receivers and dead letters
``auth``           bearer tokens, scopes (intake < officer < admin), the per-token rate limit
``delivery``       the webhook worker: signed POSTs, exponential backoff, dead letters
``signing``        webhook signatures (``verify_webhook`` is what a receiver calls)
``admin``          :class:`ServiceAdmin`: tokens and webhooks, for the CLI and the admin routes
=================  ================================================================================

The web framework is the optional ``service`` extra (``pip install 'deletion-sdk[service]'``): importing
:mod:`deletion_sdk.service` itself needs neither FastAPI nor httpx; :func:`create_app` and
:class:`WebhookDeliverer` do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deletion_sdk.service.admin import NewEndpoint, ServiceAdmin
from deletion_sdk.service.config import ServiceConfig
from deletion_sdk.service.signing import SIGNATURE_HEADER, endpoint_secret, sign_webhook, verify_webhook

if TYPE_CHECKING:
    from deletion_sdk.service.app import create_app
    from deletion_sdk.service.delivery import DeliveryRound, WebhookDeliverer

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryRound",
    "NewEndpoint",
    "ServiceAdmin",
    "ServiceConfig",
    "WebhookDeliverer",
    "create_app",
    "endpoint_secret",
    "sign_webhook",
    "verify_webhook",
]

_LAZY = {
    "create_app": "deletion_sdk.service.app",
    "DeliveryRound": "deletion_sdk.service.delivery",
    "WebhookDeliverer": "deletion_sdk.service.delivery",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as e:
            from deletion_sdk.errors import ConfigurationError

            raise ConfigurationError(
                f"the HTTP service needs the 'service' extra ({e.name} is missing): "
                "pip install 'deletion-sdk[service]'"
            ) from e
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
