"""Shared CLI plumbing: one JSON document on stdout with ``--json``, one-line errors, exit codes.

Exit codes: 0 ok, 1 a check failed, 2 bad input or usage. Errors print ``error: …`` on stderr with
no traceback unless ``--debug`` is given (or ``DELETION_SDK_DEBUG=1``); with ``--json`` they print one JSON
object instead: ``{"error": {"type": …, "message": …, "exit_code": …}}``.

Every ``list`` command has one shape: a JSON array of objects with ``--json``; otherwise a table followed by
a ``N <things>`` line. In a terminal a table keeps ids whole and shortens only long references; outside one
(a pipe, a file) nothing is shortened at all.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
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
    "emit_list",
    "error_document",
    "exit_code_for",
    "fail",
    "read_secret_arg",
    "state",
    "unknown_name",
]

JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout.")

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


# Outside a terminal rich would assume 80 columns and cut table cells with "…": give it room instead.
_UNBOUNDED_WIDTH = 1_000_000


def is_terminal() -> bool:
    """Whether stdout is a terminal (a person reading) rather than a pipe or a file (a program reading)."""
    return sys.stdout.isatty()


def console() -> Console:
    """A console on stdout for human-readable output; outside a terminal it never shortens anything."""
    if is_terminal():
        return Console(soft_wrap=True)
    return Console(soft_wrap=True, width=_UNBOUNDED_WIDTH, no_color=True, highlight=False)


def emit_list(
    items: Sequence[Any],
    *,
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[Any], Sequence[object]],
    noun: str,
    plural: str | None = None,
    whole: Sequence[str] = (),
) -> None:
    """Print a list the one way every ``list`` command does.

    Args:
        items: the records (pydantic models or dicts).
        as_json: print a JSON array of the records instead of the table.
        columns: the table's column headers.
        row: the cells of one record, in column order.
        noun: what one record is (``"request"``): the count line reads ``3 requests``.
        plural: the plural when it is not ``noun + "s"``.
        whole: columns (by header) a terminal must never shorten, such as ids.
    """

    def human() -> None:
        from rich.table import Table

        rows = [[str(cell) for cell in row(item)] for item in items]
        table = Table(show_lines=False)
        for i, header in enumerate(columns):
            longest = max([len(header), *(len(r[i]) for r in rows)])
            keep = header in whole
            table.add_column(header, no_wrap=keep, min_width=longest if keep else None, overflow="fold")
        for r in rows:
            table.add_row(*r)
        console().print(table)
        print(f"{len(items)} {noun if len(items) == 1 else plural or noun + 's'}")

    emit(list(items), as_json=as_json, human=human)


def shorten(text: str, keep: int = 16) -> str:
    """``text`` cut to ``keep`` characters and "…" in a terminal; whole outside one."""
    return text[:keep] + "…" if is_terminal() and len(text) > keep + 1 else text


def unknown_name(kind: str, name: str, known: Iterable[str], *, hint: str = "") -> InputError:
    """The error for an unknown ``kind`` name: the known ones, and the closest match when there is one."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names) if names else f"none yet{hint}"
    return InputError(f"Unknown {kind} {name!r}. Known {kind}s: {listed}.{suggestion}")


def read_secret_arg(value: str, *, option: str) -> str:
    """``value``, or one line read from stdin when it is ``-`` (keeps it out of the shell's history).

    At a terminal the line is read without echo; stdin that cannot be read is bad input, not a traceback.
    """
    if value != "-":
        return value
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            import getpass

            line = getpass.getpass(f"{option.lstrip('-')}: ").strip()
        else:
            line = ("" if sys.stdin is None else sys.stdin.readline()).strip()
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as e:
        raise InputError(
            f"The '{option}' option was '-', but stdin could not be read ({type(e).__name__})."
        ) from e
    if not line:
        raise InputError(f"The '{option}' option was '-' (read from stdin), but stdin held no value.")
    return line


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


def error_document(message: str, *, error_type: str, code: int) -> str:
    """The one-line JSON object an error is reported as under ``--json``."""
    return json.dumps({"error": {"type": error_type, "message": message, "exit_code": code}})


def _json_mode() -> bool:
    """Whether the running command was given ``--json`` (its ``as_json`` parameter)."""
    import click

    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.params.get("as_json"))


def fail(message: str, *, code: int = EXIT_CHECK_FAILED, error_type: str = "CheckFailed") -> typer.Exit:
    """Report ``message`` on stderr (one JSON object under ``--json``) and return the Exit to raise."""
    if _json_mode():
        sys.stderr.write(error_document(message, error_type=error_type, code=code) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def one_line(error: BaseException) -> str:
    """The first line of an error message, never empty."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def is_deletion_error(error: BaseException) -> bool:
    return isinstance(error, DeletionSDKError)
