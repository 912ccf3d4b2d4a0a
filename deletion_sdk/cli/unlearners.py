"""``deletion-sdk unlearners list``: the registered unlearning methods and their default parameters."""

from __future__ import annotations

from typing import Any

import typer

from deletion_sdk.cli._common import JsonOption, emit_list, state
from deletion_sdk.logging import configure_logging


def _describe(name: str) -> dict[str, Any]:
    # Imported here, not at module level: every CLI start would otherwise pay for torch.
    from deletion_sdk.unlearning import get_unlearner, unlearner_source

    cls = get_unlearner(name)
    return {
        "name": name,
        "description": cls.description,
        "paper": cls.paper,
        "version": cls.version,
        "exact": cls.exact,
        "source": unlearner_source(name),
        "params": cls.Params().model_dump(mode="json"),
    }


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Unlearning methods (built-in and plugins).", no_args_is_help=True)

    @group.command("list")
    def list_command(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List every registered unlearner: name, one-line description, default parameters."""
        # Logs (e.g. a broken plugin's warning) go to stderr: stdout stays one JSON document.
        configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")
        from deletion_sdk.unlearning import list_unlearners

        rows = [_describe(name) for name in list_unlearners()]
        emit_list(
            rows,
            as_json=as_json,
            columns=("name", "description", "default parameters", "source"),
            row=lambda r: (
                r["name"],
                r["description"],
                ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-",
                r["source"],
            ),
            noun="unlearner",
            whole=("name",),
        )

    app.add_typer(group, name="unlearners")
