"""Shared CLI plumbing: one JSON document on stdout with ``--json``, one-line errors, exit codes.

Exit codes: 0 ok, 1 a check failed, 2 bad input or usage. Errors print ``error: …`` on stderr with
no traceback unless ``--debug`` is given (or ``DELETION_SDK_DEBUG=1``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from deletion_sdk.errors import ConfigurationError, DeletionSDKError, InputError, NotFoundError

__all__ = [
    "CLIState",
    "JsonOption",
    "console",
    "emit",
    "exit_code_for",
    "fail",
    "state",
]

JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout.")

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


def console() -> Console:
    """A console on stdout for human-readable output."""
    return Console(soft_wrap=True)


@dataclass(frozen=True)
class CLIState:
    """Options given before the sub-command."""

    home: Path | None = None
    database_url: str | None = None
    debug: bool = False


def state(ctx: typer.Context) -> CLIState:
    """The root options of this invocation."""
    root = ctx.find_root()
    obj = root.obj
    return obj if isinstance(obj, CLIState) else CLIState()


def _jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list | tuple):
        return [_jsonable(d) for d in data]
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    return data


def emit(data: Any, *, as_json: bool, human: Callable[[], None] | None = None) -> None:
    """Print ``data`` as one JSON document when ``as_json``; otherwise call ``human`` (or print JSON)."""
    if as_json or human is None:
        sys.stdout.write(json.dumps(_jsonable(data), indent=2, default=str) + "\n")
        sys.stdout.flush()
    else:
        human()


def exit_code_for(error: BaseException) -> int:
    """Map an exception to the CLI exit code."""
    if isinstance(error, InputError | ConfigurationError | NotFoundError):
        return EXIT_BAD_INPUT
    return EXIT_CHECK_FAILED


def fail(message: str, *, code: int = EXIT_CHECK_FAILED) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def one_line(error: BaseException) -> str:
    """The first line of an error message, never empty."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def is_deletion_error(error: BaseException) -> bool:
    return isinstance(error, DeletionSDKError)
