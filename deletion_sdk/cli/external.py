"""``deletion-sdk datasets import-utkface|import-folder|import-source``, ``models register-external`` and
``registry publish|publish-deployed``.

Commands for a team's own data, model and model registry; the first two join the ``datasets`` and
``models`` groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from deletion_sdk.cli._common import JsonOption, emit
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.errors import InputError

__all__ = ["register"]

_HOLDOUT = typer.Option(0.0, "--holdout", min=0.0, max=0.99, help="Share of people held out (never trained).")
_TEST = typer.Option(0.0, "--test", min=0.0, max=0.99, help="Share of people in the test split.")


def _group(app: typer.Typer, name: str) -> typer.Typer:
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    raise RuntimeError(
        f"the '{name}' command group must be registered before cli.external"
    )  # pragma: no cover


def _report(result: Any) -> None:
    d = result.dataset
    splits = ", ".join(f"{k}={v}" for k, v in d.splits.items())
    print(
        f"registered dataset {d.name} (id {d.dataset_id}): {d.n_examples} examples of {d.n_subjects} people"
    )
    print(f"splits           {splits}")
    print(f"examples_root    {d.examples_root}")
    if result.skipped:
        print(
            f"skipped          {len(result.skipped)} file(s), "
            f"e.g. {result.skipped[0][0]}: {result.skipped[0][1]}"
        )


def _options(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"The '--option' parameter must be KEY=VALUE. Got {item!r} instead.")
        out[key.strip()] = value
    return out


def register(app: typer.Typer) -> None:
    datasets = _group(app, "datasets")
    models = _group(app, "models")

    @datasets.command("import-utkface")
    def import_utkface(
        ctx: typer.Context,
        directory: Path = typer.Argument(
            ..., help="Folder of {age}_{gender}_{race}_{timestamp}.jpg.chip.jpg."
        ),
        name: str = typer.Option(..., "--name", help="Unique dataset name."),
        subjects: Path | None = typer.Option(
            None,
            "--subjects",
            help="CSV path,subject_id[,split]: whose each image is (default: one per image).",
        ),
        holdout: float = _HOLDOUT,
        test: float = _TEST,
        as_json: bool = JsonOption,
    ) -> None:
        """Register a UTKFace-named folder: ages from the file names, owners hashed, digests recorded."""
        with open_sdk(ctx) as sdk:
            result = sdk.import_utkface(
                name=name, directory=directory, subjects=subjects, holdout=holdout, test=test
            )
        emit(result, as_json=as_json, human=lambda: _report(result))

    @datasets.command("import-folder")
    def import_folder(
        ctx: typer.Context,
        directory: Path = typer.Argument(..., help="Folder of images (any depth)."),
        name: str = typer.Option(..., "--name", help="Unique dataset name."),
        subjects: Path = typer.Option(
            ..., "--subjects", help="CSV path,subject_id[,age][,split]; ages may come from folder names."
        ),
        holdout: float = _HOLDOUT,
        test: float = _TEST,
        as_json: bool = JsonOption,
    ) -> None:
        """Register every image under a folder, each owned and aged through a subject-mapping CSV."""
        with open_sdk(ctx) as sdk:
            result = sdk.import_image_folder(
                name=name, directory=directory, subjects=subjects, holdout=holdout, test=test
            )
        emit(result, as_json=as_json, human=lambda: _report(result))

    @datasets.command("import-source")
    def import_source(
        ctx: typer.Context,
        source: str = typer.Argument(
            ..., help="An installed source (entry-point group deletion_sdk.datasets)."
        ),
        name: str = typer.Option(..., "--name", help="Unique dataset name."),
        out: Path = typer.Option(..., "--out", help="Folder the source's images are written to."),
        option: list[str] = typer.Option([], "--option", help="KEY=VALUE passed to the source (repeatable)."),
        holdout: float = _HOLDOUT,
        test: float = _TEST,
        as_json: bool = JsonOption,
    ) -> None:
        """Register the examples of a plugin dataset source (its images written under --out)."""
        with open_sdk(ctx) as sdk:
            result = sdk.import_dataset_source(
                name=name, source=source, out=out, options=_options(option), holdout=holdout, test=test
            )
        emit(result, as_json=as_json, human=lambda: _report(result))

    @models.command("register-external")
    def register_external(
        ctx: typer.Context,
        name: str = typer.Option(..., "--name", help="Model name."),
        arch: str = typer.Option(..., "--arch", help="torchvision:resnet18|…, or a plugin architecture."),
        weights: Path = typer.Option(
            ..., "--weights", help=".safetensors, or a weights-only torch.save file."
        ),
        dataset: str | None = typer.Option(None, "--dataset", help="The registered dataset it trained on."),
        lineage: Path | None = typer.Option(None, "--lineage", help="JSON written by LineageRecorder.save."),
        recipe: Path | None = typer.Option(
            None, "--recipe", help="TrainingRecipe as JSON (how it was trained)."
        ),
        image_size: int | None = typer.Option(
            None, "--image-size", min=8, help="Input side, without a recipe."
        ),
        deploy: bool = typer.Option(False, "--deploy/--no-deploy", help="Deploy the new version."),
        as_json: bool = JsonOption,
    ) -> None:
        """Register a model trained outside the SDK with its recipe and recorded training data."""
        with open_sdk(ctx) as sdk:
            record = sdk.register_external_model(
                name=name,
                architecture=arch,
                weights=weights,
                dataset=dataset,
                lineage=lineage,
                recipe=recipe,
                image_size=image_size,
                deploy=deploy,
            )

        def human() -> None:
            m = record.metrics
            print(
                f"registered {record.name} v{record.version} ({record.architecture}, {record.status}); "
                f"recipe {m.get('recipe')}, lineage {m.get('lineage')}, digest {record.weights_digest[:16]}…"
            )

        emit(record, as_json=as_json, human=human)

    group = typer.Typer(help="The MLflow model registry as deployment target.", no_args_is_help=True)
    app.add_typer(group, name="registry")

    def _show(pub: Any) -> None:
        moved = f"moved to version {pub.alias_version}" if pub.alias_moved else f"left at {pub.alias_version}"
        print(f"MLflow model {pub.registered_model} ({pub.tracking_uri}): alias {pub.alias} {moved}")
        if pub.retired_versions:
            print(
                f"retired versions {', '.join(pub.retired_versions)}; "
                f"deleted {', '.join(pub.deleted_versions) or 'none'}"
            )

    @group.command("publish")
    def publish(
        ctx: typer.Context,
        job_id: str = typer.Argument(..., help="A finished batch job."),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="Default: SQLite under HOME/mlflow."
        ),
        alias: str | None = typer.Option(None, "--alias", help="Serving alias (default production)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Mirror a batch job into MLflow: versions with evidence; the alias moves only when certified."""
        with open_sdk(ctx) as sdk:
            pub = sdk.publish_to_mlflow(job_id=job_id, tracking_uri=tracking_uri, alias=alias)
        emit(pub, as_json=as_json, human=lambda: _show(pub))

    @group.command("publish-deployed")
    def publish_deployed(
        ctx: typer.Context,
        model: str = typer.Argument(..., help="SDK model name."),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="Default: SQLite under HOME/mlflow."
        ),
        alias: str | None = typer.Option(None, "--alias", help="Serving alias (default production)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Register the deployed version in MLflow and point the serving alias at it."""
        with open_sdk(ctx) as sdk:
            pub = sdk.publish_deployed_to_mlflow(model=model, tracking_uri=tracking_uri, alias=alias)
        emit(pub, as_json=as_json, human=lambda: _show(pub))
