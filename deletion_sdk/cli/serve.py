"""``deletion-sdk serve``: the HTTP intake service (FastAPI on uvicorn) over this deployment."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from pydantic import ValidationError

from deletion_sdk.cli._common import state
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.errors import ConfigurationError, InputError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.sdk import resolve_settings

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on."),
        max_body_bytes: int = typer.Option(
            16_384, "--max-body-bytes", help="Largest request body (413 above)."
        ),
        rate_limit: float = typer.Option(
            50.0, "--rate-limit", help="Requests per second per token on average (0: no limit)."
        ),
        rate_burst: int = typer.Option(100, "--rate-burst", help="Requests per token at once."),
        webhooks: bool = typer.Option(
            True, "--webhooks/--no-webhooks", help="Deliver webhooks from this process."
        ),
        access_log: bool = typer.Option(False, "--access-log", help="Log one line per request (no bodies)."),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            max=64,
            help="Server processes (each with its own pools and webhook worker).",
        ),
    ) -> None:
        """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) until interrupted.

        Needs the 'service' extra: pip install 'deletion-sdk[service]'.
        """
        try:
            import uvicorn

            from deletion_sdk.service import ServiceConfig, create_app
        except ModuleNotFoundError as e:
            raise ConfigurationError(
                f"`serve` needs the 'service' extra ({e.name} is missing): "
                "pip install 'deletion-sdk[service]'"
            ) from e
        st = state(ctx)
        # A server must not create an empty deployment because of a mistyped HOME (raises, naming `init`).
        Ledger.open(
            resolve_settings(home=st.home, database_url=st.database_url).resolved_database_url
        ).dispose()
        try:
            config = ServiceConfig(
                max_body_bytes=max_body_bytes,
                rate_limit_per_s=rate_limit if rate_limit > 0 else None,
                rate_burst=rate_burst,
                deliver_webhooks=webhooks,
            )
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"The '{where}' option {first['msg']}.") from e
        sys.stderr.write(f"serving on http://{host}:{port} (OpenAPI at /openapi.json); Ctrl-C stops\n")
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_level": "warning",
            "access_log": access_log,
            "server_header": False,
        }
        if workers > 1:
            # Each worker process builds its own app: hand it the deployment and the limits through the
            # environment (the factory reads them the way the CLI does).
            from deletion_sdk.service.app import CONFIG_ENV

            if st.home is not None:
                os.environ["DELETION_SDK_HOME"] = str(st.home)
            if st.database_url is not None:
                os.environ["DELETION_SDK_DATABASE_URL"] = st.database_url
            os.environ[CONFIG_ENV] = config.model_dump_json()
            uvicorn.run(
                "deletion_sdk.service.app:app_from_environment", factory=True, workers=workers, **options
            )
            return
        with open_sdk(ctx) as sdk:
            uvicorn.run(create_app(sdk, config=config), **options)
