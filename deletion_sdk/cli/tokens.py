"""``deletion-sdk tokens create|list|revoke``: API tokens of the HTTP service (stored as SHA-256 only)."""

from __future__ import annotations

import typer

from deletion_sdk.cli._common import JsonOption, console, emit
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.ledger.api_tokens import TokenRecord
from deletion_sdk.service.admin import ServiceAdmin

__all__ = ["register"]


def _table(records: tuple[TokenRecord, ...]) -> None:
    from rich.table import Table

    table = Table("token_id", "name", "scope", "created_at", "revoked_at")
    for r in records:
        table.add_row(
            r.token_id,
            r.name,
            r.scope.value,
            r.created_at.isoformat(),
            r.revoked_at.isoformat() if r.revoked_at else "",
        )
    console().print(table)
    print(f"{len(records)} token(s)")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="API tokens of `deletion-sdk serve` (intake < officer < admin).", no_args_is_help=True
    )
    app.add_typer(group, name="tokens")

    @group.command("create")
    def create(
        ctx: typer.Context,
        scope: str = typer.Option(
            ...,
            "--scope",
            help="intake (submit, read status), officer (review, jobs, audit), admin (webhooks).",
        ),
        name: str = typer.Option(..., "--name", help="What the token is for, e.g. web-intake."),
        as_json: bool = JsonOption,
    ) -> None:
        """Create a token and print it once (only its SHA-256 is stored)."""
        with open_sdk(ctx) as sdk:
            created = ServiceAdmin(sdk).create_token(name=name, scope=scope)

        def human() -> None:
            r = created.record
            print(f"token {r.token_id}  scope={r.scope.value}  name={r.name}")
            print(created.token)
            print("Store it now: it is not shown again (send it as 'Authorization: Bearer <token>').")

        emit(created, as_json=as_json, human=human)

    @group.command("list")
    def list_(
        ctx: typer.Context,
        active: bool = typer.Option(False, "--active", help="Leave out revoked tokens."),
        as_json: bool = JsonOption,
    ) -> None:
        """List tokens (never their secrets)."""
        with open_sdk(ctx) as sdk:
            records = ServiceAdmin(sdk).list_tokens(include_revoked=not active)
        emit(list(records), as_json=as_json, human=lambda: _table(records))

    @group.command("revoke")
    def revoke(
        ctx: typer.Context,
        token_id: str = typer.Argument(..., help="The token id (from `tokens list`)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Revoke a token; the server refuses it from its next request on."""
        with open_sdk(ctx) as sdk:
            record = ServiceAdmin(sdk).revoke_token(token_id=token_id)
        emit(
            record,
            as_json=as_json,
            human=lambda: print(
                f"revoked {record.token_id}  at {record.revoked_at.isoformat() if record.revoked_at else ''}"
            ),
        )
