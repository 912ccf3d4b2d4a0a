"""``deletion-sdk qualify``: the competition-style qualification of an unlearner (forgetting quality F).

Trains N original models, unlearns with the method from each, retrains N models without the forget set
(every run is stored under HOME/qualification/models by the digest of its spec, so a killed run resumes and
originals and retrains are shared between methods), and prints
F, the final score, the oracle's F and the wall time as a fraction of retraining. The runs go to the
executor ``--executor`` names (``local``, or ``ray`` to fan them out). The report is stored as canonical
JSON under HOME/qualification/<sha256>.json; certificates cite that digest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from deletion_sdk.cli._common import JsonOption, emit, state
from deletion_sdk.errors import InputError
from deletion_sdk.logging import configure_logging

__all__ = ["register"]


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(f"The '--param' option must be KEY=VALUE. Got {pair!r} instead.")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def register(app: typer.Typer) -> None:
    @app.command("qualify")
    def qualify_command(
        ctx: typer.Context,
        unlearner: str = typer.Option(..., "--unlearner", help="Registered unlearner name."),
        models: int = typer.Option(8, "--models", min=6, help="N: originals, retrains and unlearning runs."),
        size: str = typer.Option("default", "--size", help="Synthetic data size: default or tiny."),
        config: Path | None = typer.Option(
            None, "--config", help="TrainConfig JSON file (default: the CPU default configuration)."
        ),
        param: list[str] = typer.Option([], "--param", help="Unlearner parameter KEY=VALUE (repeatable)."),
        forget_fraction: float = typer.Option(0.02, "--forget-fraction", help="Share of training rows."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
        seed: int = typer.Option(0, "--seed", help="Seeds the data, its split and the forget set."),
        executor: str | None = typer.Option(
            None, "--executor", help="local or ray (default: DELETION_SDK_EXECUTOR, else local)."
        ),
        workers: int | None = typer.Option(
            None,
            "--workers",
            min=1,
            help="Trainings at once on ray (default: DELETION_SDK_EXECUTOR_WORKERS).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Qualify an unlearner: F, final score, oracle F and time fraction over N models."""
        from deletion_sdk.data.defaults import default_age_predictor_data
        from deletion_sdk.executor import executor_from_settings
        from deletion_sdk.sdk import resolve_settings
        from deletion_sdk.training import TrainConfig
        from deletion_sdk.verification.qualification import qualify, store_qualification, summarize

        configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")
        if size not in ("default", "tiny"):
            raise InputError(f"The '--size' option must be 'default' or 'tiny'. Got {size!r} instead.")
        train_config = (
            TrainConfig.model_validate_json(config.read_text(encoding="utf-8")) if config else TrainConfig()
        )
        st = state(ctx)
        settings = resolve_settings(home=st.home, database_url=st.database_url)
        directory = settings.layout.qualification
        chosen = settings.model_copy(
            update={
                "executor": executor or settings.executor,
                "executor_workers": workers or settings.executor_workers,
            }
        )
        runner = executor_from_settings(chosen)  # unknown name: RegistryError, exit code 2
        data = default_age_predictor_data(seed, size=size, image_size=train_config.image_size)  # type: ignore[arg-type]

        def progress(message: str) -> None:
            if not as_json:
                typer.echo(message, err=True)

        with runner:
            report = qualify(
                unlearner,
                train_config,
                models,
                train=data.train,
                test=data.test,
                forget_fraction=forget_fraction,
                params=_params(param),
                device=device,
                seed=seed,
                directory=directory,
                progress=progress,
                executor=runner,
            )
        stored = store_qualification(report, directory=directory)  # same bytes: names the stored file
        summary = {**summarize(report), "path": str(stored.path)}

        def human() -> None:
            for key, value in summary.items():
                shown = f"{value:.4f}" if isinstance(value, float) else value
                print(f"{key:28} {shown}")

        emit(summary, as_json=as_json, human=human)
