"""``deletion-sdk datasets register|show|list``."""

from __future__ import annotations

from pathlib import Path

import typer

from deletion_sdk.cli._common import JsonOption, console, emit
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.ledger.records import DatasetRecord

__all__ = ["register"]


def _print(record: DatasetRecord) -> None:
    for key, value in record.model_dump(mode="json").items():
        print(f"{key:16} {value}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Datasets and their examples' owners (lineage).", no_args_is_help=True)
    app.add_typer(group, name="datasets")

    @group.command("register")
    def register_(
        ctx: typer.Context,
        name: str = typer.Option(..., "--name", help="Unique dataset name."),
        manifest: Path = typer.Option(
            ...,
            "--manifest",
            help="CSV manifest: example_id,subject_id,path,age[,split] (paths relative to it).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Register a dataset snapshot from a CSV manifest (file digests recorded, subject ids hashed)."""
        with open_sdk(ctx) as sdk:
            record = sdk.register_dataset(name=name, manifest=manifest)
        emit(record, as_json=as_json, human=lambda: _print(record))

    @group.command("show")
    def show(
        ctx: typer.Context,
        dataset: str = typer.Argument(..., help="Dataset name or id."),
        as_json: bool = JsonOption,
    ) -> None:
        """Show one dataset."""
        with open_sdk(ctx) as sdk:
            record = sdk.get_dataset(dataset=dataset)
        emit(record, as_json=as_json, human=lambda: _print(record))

    @group.command("list")
    def list_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List registered datasets."""
        with open_sdk(ctx) as sdk:
            records = sdk.list_datasets()

        def human() -> None:
            from rich.table import Table

            table = Table("id", "name", "examples", "subjects", "splits", "examples_root")
            for r in records:
                splits = ", ".join(f"{k}={v}" for k, v in r.splits.items())
                table.add_row(
                    str(r.dataset_id),
                    r.name,
                    str(r.n_examples),
                    str(r.n_subjects),
                    splits,
                    r.examples_root[:16] + "…",
                )
            console().print(table)

        emit(list(records), as_json=as_json, human=human)
