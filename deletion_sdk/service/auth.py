"""Who may call what: bearer-token authentication, scopes and the per-token rate limit.

Every ``/v1`` route depends on :func:`require` with the least scope it needs. No token, a malformed, unknown
or revoked one: 401 with ``WWW-Authenticate: Bearer``. A token whose scope is below the route's: 403. A
token past its rate: 429 with ``Retry-After``. Tokens are looked up in the ledger on every call (concurrent
calls' tokens in one read transaction), so a revocation takes effect at once.

``POST /v1/requests`` applies the same rules (``authenticate``, then :func:`admit`) inside the transaction
that records its request (see :mod:`deletion_sdk.service.batching`); only a missing token is refused
before the body is read, so a malformed body with an unknown token is answered 422, not 401. A refused
token gets its 401/429 before any other answer about the request, and nothing is recorded for it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Depends, Request, Security
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
        object.__setattr__(self, "tokens", TokenChecker(self.sdk))
        # Intake checks its callers' tokens inside the transaction that records their requests.
        intake = IntakeBatcher(self.sdk, admit=lambda token: admit(self, token, Scope.INTAKE))
        object.__setattr__(self, "intake", intake)

    def close(self) -> None:
        """Finish the groups being handled and stop their threads."""
        self.intake.close()
        self.tokens.close()


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def service_state(request: Request) -> ServiceState:
    """The app's :class:`ServiceState` (a dependency; async, so FastAPI runs it without a thread hop)."""
    return _state(request)


def unauthenticated(message: str) -> ApiError:
    """The 401 answer (with ``WWW-Authenticate: Bearer``) for an AuthenticationError's message."""
    return ApiError(401, "AuthenticationError", message, headers={"WWW-Authenticate": "Bearer"})


async def bearer_token(credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> str:
    """A dependency that returns the bearer token's text (401 when there is none); it checks nothing else."""
    if credentials is None:
        raise unauthenticated(
            "missing API token: send 'Authorization: Bearer dsk_…' (create one with "
            "`deletion-sdk tokens create`)"
        )
    return credentials.credentials


def admit(state: ServiceState, token: TokenRecord, scope: Scope) -> TokenRecord:
    """``token`` when its scope covers ``scope`` and it is within its rate.

    Raises:
        ApiError: 403 for a scope below ``scope``, 429 (with Retry-After) over the rate limit.
    """
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
                f"token {token.token_id} is over its rate limit of {state.limiter.rate_per_s:g} requests/s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
    return token


def require(scope: Scope) -> Callable[..., Awaitable[TokenRecord]]:
    """A dependency that admits tokens of ``scope`` or above and returns the caller's token."""

    async def dependency(request: Request, text: str = Depends(bearer_token)) -> TokenRecord:
        state = _state(request)
        try:
            token = await state.tokens.run(text)  # looked up with concurrent callers' tokens
        except AuthenticationError as e:
            raise unauthenticated(str(e)) from e
        return admit(state, token, scope)

    dependency.__name__ = f"require_{scope.value}"
    return dependency
