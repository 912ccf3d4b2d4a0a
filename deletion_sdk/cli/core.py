"""``deletion-sdk version`` (init and db upgrade are added with the ledger)."""

from __future__ import annotations

import typer

from deletion_sdk import __version__
from deletion_sdk.cli._common import JsonOption, emit


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version(as_json: bool = JsonOption) -> None:
        """Print the SDK version."""
        emit({"version": __version__}, as_json=as_json, human=lambda: print(__version__))
