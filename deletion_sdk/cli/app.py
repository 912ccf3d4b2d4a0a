"""The ``deletion-sdk`` command line. Uses only the public API."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from deletion_sdk.cli._common import CLIState, exit_code_for, one_line
from deletion_sdk.errors import DeletionSDKError
from deletion_sdk.logging import configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="deletion-sdk",
    help="Record deletion requests, make models forget, prove it, certify it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="SDK home (default $DELETION_SDK_HOME or ./.deletion_sdk)."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help="SQLAlchemy URL of the ledger."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    configure_logging(level="DEBUG" if debug else "WARNING")  # stderr: stdout stays one JSON document
    ctx.obj = CLIState(home=home, database_url=database_url, debug=debug)


def _register() -> None:
    """Attach the command groups. Each module exposes ``register(app)``."""
    from deletion_sdk.cli import (
        audit,
        batch,
        certificate,
        core,
        datasets,
        demo,
        erasure,
        external,
        keys,
        models,
        policies,
        qualify,
        redteam,
        requests,
        serve,
        tokens,
        unlearners,
        webhooks,
    )

    for module in (
        core,
        policies,
        requests,
        datasets,
        models,
        external,
        erasure,
        batch,
        demo,
        unlearners,
        keys,
        certificate,
        audit,
        qualify,
        redteam,
        serve,
        tokens,
        webhooks,
    ):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps errors to one line on stderr and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("DELETION_SDK_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        # Without standalone mode click *returns* the code of a `raise typer.Exit(n)` instead of raising.
        returned = command.main(args=args, prog_name="deletion-sdk", standalone_mode=False)
        if isinstance(returned, int) and returned != 0:
            sys.exit(returned)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(130)
    except typer.TyperException as e:
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            sys.exit(0)
        sys.stderr.write(f"error: {e.format_message()}\n")
        sys.exit(e.exit_code)
    except DeletionSDKError as e:
        if debug:
            raise
        sys.stderr.write(f"error: {one_line(e)}\n")
        sys.exit(exit_code_for(e))
    sys.exit(0)
