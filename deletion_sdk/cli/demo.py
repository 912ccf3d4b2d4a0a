"""``deletion-sdk demo``: the main job end to end on the embedded default (SQLite, CPU).

Generates synthetic faces, trains and deploys the age predictor, records deletion requests for about
twenty people (plus one who was never in the data), runs the batch job, prints a summary, and verifies
the certificate and the audit log as an auditor would. Everything lives under ``--workdir``.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from deletion_sdk.cli._common import JsonOption, emit, shorten
from deletion_sdk.cli.batch import print_batch_summary

__all__ = ["DemoPlan", "register"]

MARKER = ".deletion-sdk-demo"


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of one demo run."""

    n_subjects: int
    image_size: int
    epochs: int
    n_requests: int

    @classmethod
    def for_mode(cls, quick: bool) -> DemoPlan:
        # Full: the default CPU age predictor (about 10,000 training images, see data.defaults, and the
        # default TrainConfig). Quick: a smaller population and fewer epochs, for a three-minute tour.
        from deletion_sdk.data import DEFAULT_N_SUBJECTS
        from deletion_sdk.training import TrainConfig

        if quick:
            return cls(n_subjects=1000, image_size=32, epochs=10, n_requests=12)
        return cls(n_subjects=DEFAULT_N_SUBJECTS, image_size=32, epochs=TrainConfig().epochs, n_requests=20)


def _fresh_workdir(workdir: Path) -> None:
    if workdir.exists():
        if not (workdir / MARKER).exists() and any(workdir.iterdir()):
            raise typer.BadParameter(
                f"{workdir} exists and was not made by the demo; choose another --workdir",
                param_hint="--workdir",
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("created by deletion-sdk demo; safe to delete\n")


def _write_data(workdir: Path, plan: DemoPlan, seed: int) -> tuple[Path, list[str], float]:
    from deletion_sdk.data import SynthFacesConfig, generate_faces, subject_disjoint_split, write_faces

    start = time.perf_counter()
    faces = generate_faces(
        SynthFacesConfig(n_subjects=plan.n_subjects, image_size=plan.image_size, seed=seed)
    )
    parts = subject_disjoint_split(
        faces.data, fractions={"train": 0.6, "holdout": 0.2, "test": 0.2}, seed=seed
    )
    split = {eid: name for name, part in parts.items() for eid in part.example_ids}
    written = write_faces(faces, workdir / "faces", split=split)
    train_subjects = sorted(set(parts["train"].subject_ids or ()))
    return written.manifest_path, train_subjects, time.perf_counter() - start


def _run(workdir: Path, quick: bool, seed: int, as_json: bool) -> dict[str, Any]:
    from deletion_sdk.sdk import DeletionSDK
    from deletion_sdk.training import TrainConfig

    plan = DemoPlan.for_mode(quick)
    con = Console(stderr=as_json, soft_wrap=True)  # with --json, stdout carries only the document
    timings: dict[str, float] = {}
    started = time.perf_counter()
    _fresh_workdir(workdir)

    with con.status("generating synthetic faces…", spinner="dots"):
        manifest, train_subjects, timings["generate_s"] = _write_data(workdir, plan, seed)
    con.print(f"✓ generated faces of {plan.n_subjects} people ({timings['generate_s']:.1f} s)")

    with DeletionSDK.open(home=workdir / "home") as sdk:
        sdk.generate_keys()
        with con.status("registering the dataset (hashing every image)…", spinner="dots"):
            dataset = sdk.register_dataset(name="synthfaces", manifest=manifest)
        con.print(
            f"✓ registered {dataset.n_examples} examples of {dataset.n_subjects} people: {dataset.splits}"
        )

        t0 = time.perf_counter()
        config = TrainConfig(image_size=plan.image_size, epochs=plan.epochs, seed=seed)
        model = sdk.train_model(
            dataset="synthfaces", name="age-predictor", config=config, progress=not as_json
        )
        timings["train_s"] = time.perf_counter() - t0
        con.print(
            f"✓ trained and deployed age-predictor v{model.version}: holdout accuracy "
            f"{model.metrics.get('holdout_accuracy', float('nan')):.3f} ({timings['train_s']:.0f} s)"
        )

        chosen = random.Random(seed).sample(train_subjects, plan.n_requests)
        outsider = "never.trained.on@example.org"
        for subject in [*chosen, outsider]:
            submitted = sdk.submit_request(subject=subject, policy="gdpr-art17", actor="demo-intake")
            sdk.verify_request(
                request_id=submitted.request.request_id, actor="demo-privacy-team", reason="identity verified"
            )
        con.print(f"✓ recorded and verified {len(chosen) + 1} deletion requests (gdpr-art17)")

        t0 = time.perf_counter()
        result = sdk.run_batch(model="age-predictor", progress=lambda msg: con.print(f"  · {msg}"))
        timings["batch_s"] = time.perf_counter() - t0
        report = sdk.write_report(job_id=result.job_id) if result.job_id else None
        result = result.model_copy(update={"report_path": None if report is None else str(report)})
        if not as_json:
            print_batch_summary(result)

        checks: dict[str, Any] = {}
        if result.certificate_path:
            verified = sdk.verify_certificate(path=result.certificate_path)
            checks["certificate"] = {"valid": True, "key_id": verified.key_id}
            con.print(f"✓ certificate verifies (key {shorten(verified.key_id)}, audit entry bound)")
        audit = sdk.verify_audit_log()
        checks["audit_log"] = {"valid": True, "entries": audit.tree_size, "root": audit.root_hash}
        con.print(f"✓ audit log verifies: {audit.tree_size} entries, root {shorten(audit.root_hash)}")
        key = sdk.key_info()

    timings["total_s"] = time.perf_counter() - started
    home = workdir / "home"
    if result.certificate_path:
        con.print("\nAn auditor checks the certificate offline with:")
        con.print(f"  deletion-sdk certificate verify {result.certificate_path} --key {key.public_key_path}")
    con.print(f"Open the privacy officer's report: {report}")
    con.print(f"Everything else: deletion-sdk --home {home} requests list | audit verify | batch list")
    return {
        "mode": "quick" if quick else "full",
        "plan": plan.__dict__,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "dataset": dataset.model_dump(mode="json"),
        "model": model.model_dump(mode="json"),
        "batch": result.model_dump(mode="json"),
        "checks": checks,
        "home": str(home),
    }


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        workdir: Path = typer.Option(Path(".demo"), "--workdir", help="Directory for the demo (recreated)."),
        quick: bool = typer.Option(False, "--quick", help="Smaller data and training (about 3 minutes)."),
        seed: int = typer.Option(0, "--seed", min=0),
        as_json: bool = JsonOption,
    ) -> None:
        """Run the whole job end to end on synthetic faces: train, request, unlearn, verify, certify."""
        summary = _run(workdir, quick, seed, as_json)
        if as_json:
            emit(summary, as_json=True)
        else:
            (workdir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        raise typer.Exit(0 if summary["batch"]["status"] == "completed" else 1)
