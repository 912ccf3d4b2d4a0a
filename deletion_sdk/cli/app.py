"""The ``deletion-sdk`` command line. Uses only the public API."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from deletion_sdk.cli._common import CLIState, error_document, exit_code_for, one_line
from deletion_sdk.errors import DeletionSDKError
from deletion_sdk.logging import configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="deletion-sdk",
    help="Record deletion requests, make models forget, prove it, certify it.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from deletion_sdk import __version__

        print(f"deletion-sdk {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="SDK home (default $DELETION_SDK_HOME or ./.deletion_sdk)."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help="SQLAlchemy URL of the ledger."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    _version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
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
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args

    def error(message: str, error_type: str, code: int) -> None:
        if as_json:
            sys.stderr.write(error_document(message, error_type=error_type, code=code) + "\n")
        else:
            sys.stderr.write(f"error: {message}\n")

    command = typer.main.get_command(app)
    try:
        # Without standalone mode click *returns* the code of a `raise typer.Exit(n)` instead of raising.
        returned = command.main(args=args, prog_name="deletion-sdk", standalone_mode=False)
        if isinstance(returned, int) and returned != 0:
            sys.exit(returned)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        error("aborted", "Aborted", 130)
        sys.exit(130)
    except typer.TyperException as e:
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            sys.exit(0)
        error(e.format_message(), "UsageError", e.exit_code)
        sys.exit(e.exit_code)
    except DeletionSDKError as e:
        if debug:
            raise
        error(one_line(e), type(e).__name__, exit_code_for(e))
        sys.exit(exit_code_for(e))
    except UnicodeError:
        # Invalid UTF-8 on the command line arrives as lone surrogates; it is bad input, not a crash.
        bad = next(
            (i for i, a in enumerate(args, start=1) if any("\ud800" <= c <= "\udfff" for c in a)), None
        )
        if bad is None or debug:
            raise
        error(f"argument {bad} is not valid UTF-8 text", "InputError", 2)
        sys.exit(2)
    sys.exit(0)
