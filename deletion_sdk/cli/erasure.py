"""``deletion-sdk erasure status|overdue|sweep``: where a person's data still exists, and what is owed."""

from __future__ import annotations

from datetime import datetime

import typer

from deletion_sdk.cli._common import JsonOption, console, emit, fail
from deletion_sdk.cli.core import open_sdk

__all__ = ["register"]


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Erasure: where erased people's data still exists.", no_args_is_help=True)
    app.add_typer(group, name="erasure")

    @group.command("status")
    def status(
        ctx: typer.Context,
        request_id: str | None = typer.Option(None, "--request", help="The person of this request."),
        subject: str | None = typer.Option(
            None, "--subject", help="The person's identifier (keyed at once, never stored)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Where the person's data still exists (source files, weights, shadow banks, caches)."""
        if (request_id is None) == (subject is None):
            raise fail("give exactly one of --request or --subject", code=2)
        with open_sdk(ctx, read_only=True) as sdk:
            result = sdk.erasure_status(request_id=request_id, subject=subject)

        def human() -> None:
            from rich.table import Table

            if not result.remaining:
                console().print("Nothing holding this person's data is left.")
            else:
                table = Table("still holds their data", "kind", "items", "deleted by", "digest")
                for item in result.remaining:
                    table.add_row(
                        item.description,
                        item.kind,
                        str(item.count),
                        _when(item.due_at) or "not scheduled",
                        (item.digest or "")[:16],
                    )
                console().print(table)
            if result.erased:
                erased = Table("erased", "kind", "when", "digest")
                for a in result.erased:
                    erased.add_row(a.detail or "", a.kind.value, _when(a.erased_at), a.digest[:16])
                console().print(erased)

        emit(
            {**result.model_dump(mode="json"), "complete": result.complete},
            as_json=as_json,
            human=human,
        )

    @group.command("overdue")
    def overdue(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Retired versions whose grace period has ended while their weights are still on disk."""
        with open_sdk(ctx, read_only=True) as sdk:
            items = sdk.overdue_erasures()

        def human() -> None:
            from rich.table import Table

            table = Table("overdue", "deleted by", "digest")
            for item in items:
                table.add_row(item.description, _when(item.due_at), (item.digest or "")[:16])
            console().print(table)

        emit(list(items), as_json=as_json, human=human)

    @group.command("sweep")
    def sweep(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Delete the weights of retired versions whose grace period has ended (batch runs do this too)."""
        with open_sdk(ctx) as sdk:
            erased = sdk.erase_due_weights()
        emit(
            list(erased),
            as_json=as_json,
            human=lambda: console().print(
                f"deleted {len(erased)} retired weights file(s) past their grace period"
            ),
        )
