"""``deletion-sdk requests submit|import|list|show|verify|extend|deny|cancel|overdue``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from deletion_sdk.cli._common import JsonOption, emit, emit_list, read_secret_arg, shorten
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.ledger.records import RequestRecord
from deletion_sdk.sdk import DeletionSDK

__all__ = ["register"]


def _list(records: tuple[RequestRecord, ...], *, as_json: bool) -> None:
    emit_list(
        records,
        as_json=as_json,
        columns=("request_id", "policy", "status", "received_at", "due_at", "subject_ref"),
        row=lambda r: (
            r.request_id,
            r.policy,
            r.status,
            r.received_at.isoformat(),
            r.due_at.isoformat(),
            shorten(r.subject_ref),
        ),
        noun="request",
        whole=("request_id",),
    )


def _full_id(sdk: DeletionSDK, request_id: str) -> str:
    """The request id that is ``request_id`` or uniquely starts with it."""
    from deletion_sdk.ledger.ids import resolve_id

    with sdk.ledger.session(write=False) as session:
        return resolve_id(session, "request", request_id)


def _one(record: RequestRecord, **extra: Any) -> dict[str, Any]:
    return {**record.model_dump(mode="json"), **extra}


def _line(record: RequestRecord, prefix: str = "") -> None:
    due = record.due_at.isoformat()
    print(f"{prefix}{record.request_id}  {record.status}  policy={record.policy}  due={due}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Deletion requests: intake, review, deadlines.", no_args_is_help=True)
    app.add_typer(group, name="requests")

    @group.command("submit")
    def submit(
        ctx: typer.Context,
        subject: str = typer.Option(
            ...,
            "--subject",
            help="The person's identifier (only its keyed hash is kept); '-' reads it from stdin, keeping "
            "it out of the shell's history.",
        ),
        policy: str = typer.Option(..., "--policy", help="Policy id, e.g. gdpr-art17 or ccpa."),
        received_at: str | None = typer.Option(None, "--received-at", help="ISO 8601; default now (UTC)."),
        idempotency_key: str | None = typer.Option(None, "--idempotency-key", help="Same key, same request."),
        verified: bool = typer.Option(
            False, "--verified", help="The requester's identity is already verified."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Record a deletion request."""
        subject = read_secret_arg(subject, option="--subject")
        with open_sdk(ctx) as sdk:
            result = sdk.submit_request(
                subject=subject,
                policy=policy,
                received_at=received_at,
                idempotency_key=idempotency_key,
                actor="cli",
                verified=verified,
            )
        data = _one(result.request, created=result.created, duplicate_of_open=result.duplicate_of_open)

        def human() -> None:
            if result.created:
                _line(result.request, "recorded ")
            elif result.duplicate_of_open:
                _line(result.request, "already open for this subject and policy: ")
            else:
                _line(result.request, "already recorded under this idempotency key: ")

        emit(data, as_json=as_json, human=human)

    @group.command("import")
    def import_(
        ctx: typer.Context,
        path: Path = typer.Argument(
            ..., help="CSV or JSONL file: subject, policy[, received_at, idempotency_key]."
        ),
        verified: bool = typer.Option(
            False, "--verified", help="The requesters' identities were verified upstream."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Import requests in bulk; bad rows are reported by line (exit 1 when any row was rejected)."""
        with open_sdk(ctx) as sdk:
            report = sdk.import_requests(path=path, actor="cli-import", verified=verified)

        def human() -> None:
            print(
                f"{report.rows} row(s): {report.created} created, {report.existing} already recorded, "
                f"{report.duplicate_of_open} already open, {len(report.errors)} rejected"
            )
            for err in report.errors:
                print(f"  line {err.line}: {err.reason}")

        emit(report, as_json=as_json, human=human)
        if report.errors:
            first = report.errors[0]
            sys.stderr.write(
                f"error: {len(report.errors)} of {report.rows} row(s) rejected "
                f"(first: line {first.line}: {first.reason})\n"
            )
            raise typer.Exit(1)

    @group.command("list")
    def list_(
        ctx: typer.Context,
        status: str | None = typer.Option(None, "--status", help="Only this status."),
        policy: str | None = typer.Option(None, "--policy", help="Only this policy."),
        due_before: str | None = typer.Option(
            None, "--due-before", help="Only due before this ISO 8601 time."
        ),
        limit: int | None = typer.Option(None, "--limit", help="At most this many."),
        as_json: bool = JsonOption,
    ) -> None:
        """List requests, soonest due first."""
        with open_sdk(ctx, read_only=True) as sdk:
            records = sdk.list_requests(status=status, policy=policy, due_before=due_before, limit=limit)
        _list(records, as_json=as_json)

    @group.command("overdue")
    def overdue(
        ctx: typer.Context,
        now: str | None = typer.Option(None, "--now", help="Reference time (ISO 8601); default now."),
        as_json: bool = JsonOption,
    ) -> None:
        """List open requests past their due date."""
        with open_sdk(ctx, read_only=True) as sdk:
            records = sdk.overdue(now=now)
        _list(records, as_json=as_json)

    @group.command("show")
    def show(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="Request id (or its first characters)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Show one request and its history."""
        with open_sdk(ctx, read_only=True) as sdk:
            request_id = _full_id(sdk, request_id)
            record = sdk.get_request(request_id=request_id)
            history = sdk.request_history(request_id=request_id)
        data = _one(record, history=[h.model_dump(mode="json") for h in history])

        def human() -> None:
            for key, value in record.model_dump(mode="json").items():
                print(f"{key:17} {value}")
            print("history:")
            for h in history:
                move = f"{h.from_status or '-'} -> {h.to_status}"
                print(f"  {h.at.isoformat()}  {move}  by {h.actor}  {h.reason or ''}")

        emit(data, as_json=as_json, human=human)

    @group.command("verify")
    def verify(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="Request id (or its first characters)."),
        reason: str | None = typer.Option(None, "--reason", help="How the identity was verified."),
        as_json: bool = JsonOption,
    ) -> None:
        """Mark the requester's identity as verified (received -> verified)."""
        with open_sdk(ctx) as sdk:
            record = sdk.verify_request(request_id=_full_id(sdk, request_id), reason=reason, actor="cli")
        emit(_one(record), as_json=as_json, human=lambda: _line(record, "verified "))

    @group.command("extend")
    def extend(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="Request id (or its first characters)."),
        reason: str = typer.Option(..., "--reason", help="Why more time is needed (recorded)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Extend the deadline once, as the request's policy allows."""
        with open_sdk(ctx) as sdk:
            record = sdk.extend_request(request_id=_full_id(sdk, request_id), reason=reason, actor="cli")
        emit(_one(record), as_json=as_json, human=lambda: _line(record, "extended "))

    @group.command("deny")
    def deny(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="Request id (or its first characters)."),
        reason: str = typer.Option(..., "--reason", help="Why the request is denied (recorded)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Deny a request."""
        with open_sdk(ctx) as sdk:
            record = sdk.deny_request(request_id=_full_id(sdk, request_id), reason=reason, actor="cli")
        emit(_one(record), as_json=as_json, human=lambda: _line(record, "denied "))

    @group.command("cancel")
    def cancel(
        ctx: typer.Context,
        request_id: str = typer.Argument(..., help="Request id (or its first characters)."),
        reason: str | None = typer.Option(None, "--reason", help="Why (e.g. withdrawn by the person)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Cancel a request before unlearning starts."""
        with open_sdk(ctx) as sdk:
            record = sdk.cancel_request(request_id=_full_id(sdk, request_id), reason=reason, actor="cli")
        emit(_one(record), as_json=as_json, human=lambda: _line(record, "cancelled "))
