"""``deletion-sdk models train|register|list|show|deploy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from deletion_sdk.cli._common import JsonOption, console, emit, emit_list, shorten, unknown_name
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.cli.datasets import known_dataset
from deletion_sdk.ledger.records import ModelVersionRecord

__all__ = ["register"]


def _row(r: ModelVersionRecord) -> tuple[object, ...]:
    acc = r.metrics.get("holdout_accuracy")
    return (
        r.model_version_id,
        r.name,
        r.version,
        r.status,
        r.architecture,
        r.parent_id or "",
        "" if acc is None else f"{acc:.3f}",
        shorten(r.weights_digest),
    )


_COLUMNS = ("id", "name", "version", "status", "arch", "parent", "holdout acc", "digest")


def _table(records: tuple[ModelVersionRecord, ...]) -> None:
    from rich.table import Table

    table = Table(*_COLUMNS)
    for r in records:
        table.add_row(*(str(cell) for cell in _row(r)))
    console().print(table)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Model versions: train, register, deploy.", no_args_is_help=True)
    app.add_typer(group, name="models")

    @group.command("train")
    def train(
        ctx: typer.Context,
        dataset: str = typer.Option(..., "--dataset", help="Registered dataset name."),
        name: str = typer.Option("age-predictor", "--name", help="Model name."),
        arch: str = typer.Option("tiny_cnn", "--arch", help="Architecture (tiny_cnn, resnet18, …)."),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help="Epochs (default: the CPU default)."),
        image_size: int | None = typer.Option(None, "--image-size", min=8, help="Input side in pixels."),
        seed: int = typer.Option(0, "--seed", min=0),
        deploy: bool = typer.Option(True, "--deploy/--no-deploy", help="Deploy the new version."),
        as_json: bool = JsonOption,
    ) -> None:
        """Train an age predictor on a registered dataset and register the version."""
        from deletion_sdk.training import TrainConfig

        overrides: dict[str, Any] = {"arch": arch, "seed": seed}
        if epochs is not None:
            overrides["epochs"] = epochs
        if image_size is not None:
            overrides["image_size"] = image_size
        with open_sdk(ctx) as sdk:
            known_dataset(sdk, dataset)
            record = sdk.train_model(
                dataset=dataset,
                name=name,
                config=TrainConfig(**overrides),
                deploy=deploy,
                progress=not as_json,
            )
        emit(record, as_json=as_json, human=lambda: _table((record,)))

    @group.command("register")
    def register_(
        ctx: typer.Context,
        name: str = typer.Option(..., "--name", help="Model name."),
        checkpoint: Path = typer.Option(
            ..., "--checkpoint", help="A *.safetensors checkpoint with its JSON."
        ),
        dataset: str | None = typer.Option(
            None, "--dataset", help="The registered dataset it was trained on."
        ),
        deploy: bool = typer.Option(False, "--deploy", help="Deploy it."),
        as_json: bool = JsonOption,
    ) -> None:
        """Register an existing checkpoint as a new model version (digest verified)."""
        with open_sdk(ctx) as sdk:
            record = sdk.register_model(name=name, checkpoint=checkpoint, dataset=dataset, deploy=deploy)
        emit(record, as_json=as_json, human=lambda: _table((record,)))

    @group.command("list")
    def list_(
        ctx: typer.Context,
        name: str | None = typer.Option(None, "--name", help="Only this model."),
        as_json: bool = JsonOption,
    ) -> None:
        """List model versions."""
        with open_sdk(ctx, read_only=True) as sdk:
            records = sdk.list_models(name=name)
            if name is not None and not records:
                known = {m.name for m in sdk.list_models()}
                raise unknown_name("model", name, known, hint=" (train one with `deletion-sdk models train`)")
        emit_list(records, as_json=as_json, columns=_COLUMNS, row=_row, noun="model version", whole=("name",))

    @group.command("show")
    def show(
        ctx: typer.Context, model_version_id: int = typer.Argument(...), as_json: bool = JsonOption
    ) -> None:
        """Show one model version."""
        with open_sdk(ctx, read_only=True) as sdk:
            record = sdk.get_model(model_version_id=model_version_id)
        emit(record, as_json=as_json, human=lambda: print(record.model_dump_json(indent=2)))

    @group.command("deploy")
    def deploy_(
        ctx: typer.Context, model_version_id: int = typer.Argument(...), as_json: bool = JsonOption
    ) -> None:
        """Deploy a version (the previously deployed one becomes superseded)."""
        with open_sdk(ctx) as sdk:
            record = sdk.deploy_model(model_version_id=model_version_id)
        emit(record, as_json=as_json, human=lambda: _table((record,)))
