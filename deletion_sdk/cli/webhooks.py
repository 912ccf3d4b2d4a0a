"""``deletion-sdk webhooks add|list|disable|deliver|dead-letters|retry``: signed request notifications."""

from __future__ import annotations

import typer

from deletion_sdk.cli._common import JsonOption, console, emit
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.ledger.webhooks import WEBHOOK_EVENT_TYPES, DeadLetterRecord, EndpointRecord
from deletion_sdk.service.admin import ServiceAdmin

__all__ = ["register"]


def _endpoints(records: tuple[EndpointRecord, ...]) -> None:
    from rich.table import Table

    table = Table("endpoint_id", "url", "events", "created_at", "disabled_at")
    for r in records:
        table.add_row(
            r.endpoint_id,
            r.url,
            ",".join(r.events),
            r.created_at.isoformat(),
            r.disabled_at.isoformat() if r.disabled_at else "",
        )
    console().print(table)
    print(f"{len(records)} endpoint(s)")


def _dead(records: tuple[DeadLetterRecord, ...]) -> None:
    from rich.table import Table

    table = Table("dead_letter_id", "event_type", "endpoint_id", "attempts", "failed_at", "last_error")
    for r in records:
        table.add_row(
            str(r.dead_letter_id),
            r.event_type,
            r.endpoint_id,
            str(r.attempts),
            r.failed_at.isoformat(),
            r.last_error or "",
        )
    console().print(table)
    print(f"{len(records)} dead letter(s)")


def _public(record: EndpointRecord) -> dict[str, object]:
    return record.model_dump(mode="json", exclude={"secret_salt"})


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Webhook receivers: every request change, signed with HMAC-SHA256.", no_args_is_help=True
    )
    app.add_typer(group, name="webhooks")

    @group.command("add")
    def add(
        ctx: typer.Context,
        url: str = typer.Argument(..., help="http:// or https:// URL that receives the POSTs."),
        events: list[str] | None = typer.Option(
            None, "--event", help=f"Only these event types (repeatable): {', '.join(WEBHOOK_EVENT_TYPES)}."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Register a receiver and print its signing secret once."""
        with open_sdk(ctx) as sdk:
            new = ServiceAdmin(sdk).add_webhook(url=url, events=events or None)

        def human() -> None:
            print(
                f"endpoint {new.endpoint.endpoint_id}  {new.endpoint.url}  "
                f"events={','.join(new.endpoint.events)}"
            )
            print(f"secret: {new.secret}")
            print("Store the secret now; check each POST with deletion_sdk.service.verify_webhook.")

        emit({"endpoint": _public(new.endpoint), "secret": new.secret}, as_json=as_json, human=human)

    @group.command("list")
    def list_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List receivers."""
        with open_sdk(ctx) as sdk:
            records = ServiceAdmin(sdk).list_webhooks()
        emit([_public(r) for r in records], as_json=as_json, human=lambda: _endpoints(records))

    @group.command("disable")
    def disable(
        ctx: typer.Context,
        endpoint_id: str = typer.Argument(..., help="The endpoint id (from `webhooks list`)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Stop queueing events for a receiver (deliveries already queued still go out)."""
        with open_sdk(ctx) as sdk:
            record = ServiceAdmin(sdk).disable_webhook(endpoint_id=endpoint_id)
        emit(_public(record), as_json=as_json, human=lambda: print(f"disabled {record.endpoint_id}"))

    @group.command("deliver")
    def deliver(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Post every due delivery once (what `serve` does in the background), then exit."""
        from deletion_sdk.service import ServiceConfig, WebhookDeliverer

        with open_sdk(ctx) as sdk:
            deliverer = WebhookDeliverer(sdk, config=ServiceConfig())
            try:
                result = deliverer.drain()
            finally:
                deliverer.stop()
        emit(
            result,
            as_json=as_json,
            human=lambda: print(
                f"{result.attempted} attempted: {result.delivered} delivered, {result.retried} to retry, "
                f"{result.dead_lettered} dead-lettered"
            ),
        )

    @group.command("dead-letters")
    def dead_letters(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Deliveries that failed every attempt."""
        with open_sdk(ctx) as sdk:
            records = ServiceAdmin(sdk).dead_letters()
        emit(list(records), as_json=as_json, human=lambda: _dead(records))

    @group.command("retry")
    def retry(
        ctx: typer.Context,
        dead_letter_id: int = typer.Argument(..., help="The dead letter id (from `webhooks dead-letters`)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Queue a dead letter again (same event id and payload)."""
        with open_sdk(ctx) as sdk:
            record = ServiceAdmin(sdk).requeue_dead_letter(dead_letter_id=dead_letter_id)
        emit(record, as_json=as_json, human=lambda: print(f"queued again as delivery {record.delivery_id}"))
