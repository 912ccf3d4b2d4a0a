"""Who may call what: bearer-token authentication, scopes and the per-token rate limit.

Every ``/v1`` route depends on :func:`require` with the least scope it needs. No token, a malformed, unknown
or revoked one: 401 with ``WWW-Authenticate: Bearer``. A token whose scope is below the route's: 403. A
token past its rate: 429 with ``Retry-After``. Tokens are looked up in the ledger on every call (concurrent
calls' tokens in one read transaction), so a revocation takes effect at once.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deletion_sdk.errors import AuthenticationError
from deletion_sdk.ledger.api_tokens import Scope, TokenRecord
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service.batching import IntakeBatcher, TokenChecker
from deletion_sdk.service.config import ServiceConfig
from deletion_sdk.service.limits import RateLimiter

__all__ = ["ApiError", "ServiceState", "bearer", "require", "service_state"]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from `deletion-sdk tokens create --scope intake|officer|admin`.",
)


class ApiError(Exception):
    """An error answer: HTTP status, error type, one-line message, extra headers."""

    def __init__(
        self, status: int, kind: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class ServiceState:
    """What every route needs: the deployment, the service settings, the rate limiter, and the group
    runners that check tokens and record submissions (see :mod:`deletion_sdk.service.batching`)."""

    sdk: DeletionSDK
    config: ServiceConfig
    limiter: RateLimiter | None
    intake: IntakeBatcher = field(init=False)
    tokens: TokenChecker = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "intake", IntakeBatcher(self.sdk))
        object.__setattr__(self, "tokens", TokenChecker(self.sdk))

    def close(self) -> None:
        """Finish the groups being handled and stop their threads."""
        self.intake.close()
        self.tokens.close()


def service_state(request: Request) -> ServiceState:
    """The app's :class:`ServiceState`."""
    state: ServiceState = request.app.state.service
    return state


def require(scope: Scope) -> Callable[..., Awaitable[TokenRecord]]:
    """A dependency that admits tokens of ``scope`` or above and returns the caller's token."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> TokenRecord:
        state = service_state(request)
        if credentials is None:
            raise ApiError(
                401,
                "AuthenticationError",
                "missing API token: send 'Authorization: Bearer dsk_…' (create one with "
                "`deletion-sdk tokens create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            token = await state.tokens.run(credentials.credentials)  # with concurrent callers' tokens
        except AuthenticationError as e:
            raise ApiError(401, "AuthenticationError", str(e), headers={"WWW-Authenticate": "Bearer"}) from e
        if not token.scope.allows(scope):
            raise ApiError(
                403,
                "ScopeError",
                f"this operation needs a token of scope '{scope.value}' or above; token {token.token_id} has "
                f"scope '{token.scope.value}'",
            )
        if state.limiter is not None:
            wait = state.limiter.acquire(token.token_id)
            if wait is not None:
                raise ApiError(
                    429,
                    "RateLimited",
                    f"token {token.token_id} is over its rate limit of {state.limiter.rate_per_s:g} "
                    "requests/s",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
        return token

    dependency.__name__ = f"require_{scope.value}"
    return dependency
