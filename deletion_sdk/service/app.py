"""The FastAPI application: routes, error answers, body-size limit, webhook worker, health and readiness.

    with DeletionSDK.open(home=HOME) as sdk:
        app = create_app(sdk, config=ServiceConfig())
        uvicorn.run(app, host="127.0.0.1", port=8080)

Every error is ``{"error": {"type", "message"}}`` with a status that the OpenAPI document lists for the route.
Nothing here logs a request body; an unexpected exception is logged by its type and route only (its message
could quote input).
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from deletion_sdk import __version__
from deletion_sdk.errors import (
    AuthenticationError,
    ConflictError,
    DeletionSDKError,
    InputError,
    NotFoundError,
)
from deletion_sdk.logging import get_logger
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.service import api_admin, api_records, api_requests
from deletion_sdk.service.auth import ApiError, ServiceState
from deletion_sdk.service.config import ServiceConfig
from deletion_sdk.service.delivery import WebhookDeliverer
from deletion_sdk.service.limits import BodySizeLimit, RateLimiter
from deletion_sdk.service.schemas import Health, Readiness

__all__ = ["CONFIG_ENV", "app_from_environment", "create_app"]

_DESCRIPTION = """Record right-to-erasure requests and follow them to a signed certificate.

Authenticate with `Authorization: Bearer <token>`; create tokens with
`deletion-sdk tokens create --scope intake|officer|admin`. `intake` submits requests and reads their status;
`officer` also reviews requests and reads jobs, certificates and the audit log; `admin` also manages webhooks.

Every request change is announced to the registered webhook receivers, signed with HMAC-SHA256
(`Deletion-SDK-Signature: t=<unix time>,v1=<hex>` over `"<t>.<body>"`).
"""


def _log() -> Any:
    return get_logger(__name__)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"type": kind, "message": message}}, headers=headers
    )


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _status_of(error: DeletionSDKError) -> int:
    if isinstance(error, InputError):
        return 400
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    return 500


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.kind, error.message, error.headers)

    @app.exception_handler(DeletionSDKError)
    async def _sdk_error(request: Request, error: DeletionSDKError) -> JSONResponse:
        status = _status_of(error)
        if status == 500:
            _log().error("service.error", error_type=type(error).__name__, path=request.url.path)
        return _error(status, type(error).__name__, _first_line(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "NotFound", 405: "MethodNotAllowed"}
        return _error(
            error.status_code,
            kinds.get(error.status_code, "BadRequest"),
            str(error.detail),
            dict(error.headers) if error.headers else None,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        # Name the field and the rule, never echo the value (it may be the raw identifier).
        parts = []
        for item in error.errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return _error(422, "ValidationError", "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        _log().error("service.unexpected_error", error_type=type(error).__name__, path=request.url.path)
        return _error(500, "InternalError", "the server could not complete the request")


def create_app(
    sdk: DeletionSDK,
    *,
    config: ServiceConfig | None = None,
    deliverer: WebhookDeliverer | None = None,
    close_sdk: bool = False,
) -> FastAPI:
    """The HTTP API over ``sdk``'s deployment.

    Args:
        sdk: the open deployment (the caller closes it after the server stops).
        config: limits and webhook settings (default :class:`ServiceConfig`).
        deliverer: the webhook worker to run while the app is up (default: one built from ``config`` when
            ``config.deliver_webhooks``).
        close_sdk: close ``sdk`` when the app shuts down (the app owns it).

    Returns:
        The ASGI application; its OpenAPI document is at ``/openapi.json``.
    """
    cfg = config or ServiceConfig()
    limiter = (
        None
        if cfg.rate_limit_per_s is None
        else RateLimiter(rate_per_s=cfg.rate_limit_per_s, burst=cfg.rate_burst)
    )
    worker = (
        deliverer
        if deliverer is not None
        else (WebhookDeliverer(sdk, config=cfg) if cfg.deliver_webhooks else None)
    )
    # Build what is loaded lazily (the audit log, the policies and the unlearner plugins they name) before
    # the server's worker threads race to: the plugin registry is not safe to fill from several threads.
    _ = sdk.audit_log
    sdk.context.policies.list()

    service = ServiceState(sdk=sdk, config=cfg, limiter=limiter)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What exists now (the imported modules: torch, SQLAlchemy, pydantic — some 400,000 objects) lives
        # as long as the server: keep it out of the collector's full passes, which otherwise stall every
        # request for a tenth of a second or more each time they run. Unfrozen again at shutdown.
        gc.freeze()
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            gc.unfreeze()
            service.close()
            if worker is not None:
                worker.stop()
            if close_sdk:
                sdk.close()

    app = FastAPI(
        title="deletion-sdk intake service",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    _install_error_handlers(app)
    app.include_router(api_requests.router)
    app.include_router(api_records.router)
    app.include_router(api_admin.router)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness")
    def healthz() -> Health:
        """The process is up (no database access)."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["health"],
        summary="Readiness",
        responses={503: {"model": Readiness, "description": "The database is unreachable or not migrated."}},
    )
    def readyz() -> JSONResponse:
        """Ready when the database answers and its schema is at this version's newest migration."""
        try:
            with sdk.ledger.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            revision, head = sdk.ledger.current_revision(), sdk.ledger.head_revision()
            database = "ok"
        except sa.exc.SQLAlchemyError as e:
            revision = head = None
            database = f"unreachable: {type(e).__name__}"
        ready = database == "ok" and revision == head
        body = Readiness(
            status="ready" if ready else "not_ready", database=database, revision=revision, head=head
        )
        return JSONResponse(status_code=200 if ready else 503, content=body.model_dump(mode="json"))

    # Outermost: refuse oversized bodies before any route reads them.
    app.add_middleware(BodySizeLimit, max_bytes=cfg.max_body_bytes)
    return app


CONFIG_ENV = "DELETION_SDK_SERVICE_CONFIG"


def app_from_environment() -> FastAPI:
    """The uvicorn factory behind ``serve --workers N``: each worker process opens the deployment named by
    ``DELETION_SDK_*`` and reads its :class:`ServiceConfig` (JSON) from ``DELETION_SDK_SERVICE_CONFIG``."""
    config = ServiceConfig.model_validate_json(os.environ.get(CONFIG_ENV) or "{}")
    return create_app(DeletionSDK.open(), config=config, close_sdk=True)
