"""``deletion-sdk batch run|list|show`` and ``deletion-sdk report JOB``.

Exit codes of ``batch run`` for schedulers: 0 when the job completed or nothing was due (or another live
worker holds the model), 1 when the job failed (every allowed method failed verification), 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from deletion_sdk.cli._common import JsonOption, console, emit, emit_list, unknown_name
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.jobs.results import BatchResult, ModelSummary
from deletion_sdk.sdk import DeletionSDK

__all__ = ["print_batch_summary", "register"]


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def _get(model: ModelSummary | None, field: str) -> float | None:
    return None if model is None else getattr(model, field)


def _full_job_id(sdk: DeletionSDK, job_id: str) -> str:
    """The job id that is ``job_id`` or uniquely starts with it."""
    from deletion_sdk.ledger.ids import resolve_id

    with sdk.ledger.session(write=False) as session:
        return resolve_id(session, "job", job_id)


def check_model_name(sdk: DeletionSDK, model: str) -> None:
    """Raise, listing the registered model names, when no version of ``model`` is registered."""
    known = {m.name for m in sdk.list_models()}
    if model not in known:
        raise unknown_name("model", model, known, hint=" (train one with `deletion-sdk models train`)")


def print_batch_summary(result: BatchResult) -> None:
    """A readable summary table of one batch run."""
    from rich.table import Table

    table = Table(title=f"batch job {result.job_id or '—'}: {result.status}", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")  # paths wrap in a narrow terminal, never "…"
    rows = [
        ("model / policy", f"{result.model} / {result.policy or '—'}"),
        (
            "requests",
            f"{len(result.request_ids)} claimed: {len(result.completed_request_ids)} completed, "
            f"{len(result.no_data_request_ids)} no data, {len(result.failed_request_ids)} failed",
        ),
        ("forget examples", str(result.forget_examples)),
        ("attempts", " → ".join(f"{a.method} ({a.outcome})" for a in result.attempts) or "—"),
        ("method", result.method or "—"),
        (
            "time vs retraining",
            f"{_fmt(result.unlearning_time_s, '.1f')} s vs ≈{_fmt(result.retrain_estimate_s, '.1f')} s",
        ),
    ]
    before, after = result.original_model, result.new_model
    if before is not None:
        rows += [
            (
                "holdout accuracy",
                f"{_fmt(before.holdout_accuracy)} → {_fmt(_get(after, 'holdout_accuracy'))}",
            ),
            ("retain accuracy", f"{_fmt(before.retain_accuracy)} → {_fmt(_get(after, 'retain_accuracy'))}"),
            (
                "attack AUC (forget vs holdout)",
                f"{_fmt(before.attack_auc)} → {_fmt(_get(after, 'attack_auc'))}",
            ),
        ]
    rows += [
        (
            "decision",
            "—" if result.decision_passed is None else ("PASS" if result.decision_passed else "FAIL"),
        ),
        ("certificate", result.certificate_path or "—"),
        ("report", result.report_path or "—"),
        ("still due", str(result.remaining_due)),
    ]
    if result.message:
        rows.append(("note", result.message))
    for what, value in rows:
        table.add_row(what, value)
    console().print(table)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Batch deletion jobs.", no_args_is_help=True)
    app.add_typer(group, name="batch")

    @group.command("run")
    def run(
        ctx: typer.Context,
        model: str = typer.Option(..., "--model", help="Model name; its deployed version is unlearned."),
        policy: str | None = typer.Option(None, "--policy", help="Only requests under this policy."),
        unlearner: str | None = typer.Option(
            None, "--unlearner", help="One of the policy's methods to try first (then retrain)."
        ),
        max_requests: int | None = typer.Option(
            None, "--max-requests", min=1, help="At most this many requests."
        ),
        report: bool = typer.Option(True, "--report/--no-report", help="Write the HTML report of the job."),
        as_json: bool = JsonOption,
    ) -> None:
        """Take the due requests for a model, unlearn, verify, certify (resumes an interrupted job)."""
        with open_sdk(ctx) as sdk:
            check_model_name(sdk, model)
            progress = None if as_json else (lambda msg: print(f"· {msg}", file=sys.stderr))
            result = sdk.run_batch(
                model=model, policy=policy, unlearner=unlearner, max_requests=max_requests, progress=progress
            )
            if report and result.job_id is not None and result.status in ("completed", "failed"):
                path = sdk.write_report(job_id=result.job_id)
                result = result.model_copy(update={"report_path": str(path)})
        emit(result, as_json=as_json, human=lambda: print_batch_summary(result))
        raise typer.Exit(result.exit_code)

    @group.command("list")
    def list_(
        ctx: typer.Context,
        model: str | None = typer.Option(None, "--model"),
        status: str | None = typer.Option(None, "--status", help="running, completed or failed."),
        as_json: bool = JsonOption,
    ) -> None:
        """List batch jobs, newest first."""
        with open_sdk(ctx, read_only=True) as sdk:
            jobs = sdk.list_jobs(model=model, status=status)
        emit_list(
            [j.model_dump(mode="json", exclude={"state"}) for j in jobs],
            as_json=as_json,
            columns=("job_id", "model", "policy", "status", "step", "created_at"),
            row=lambda j: (
                j["job_id"],
                j["model_name"],
                j["policy_id"],
                j["status"],
                j["step"],
                j["created_at"],
            ),
            noun="job",
            whole=("job_id",),
        )

    @group.command("show")
    def show(
        ctx: typer.Context,
        job_id: str = typer.Argument(..., help="Batch job id (or its first characters)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Show one job: status, step and the recorded outcome of every step."""
        with open_sdk(ctx, read_only=True) as sdk:
            job = sdk.get_job(job_id=_full_job_id(sdk, job_id))
        data = job.model_dump(mode="json")
        data["state"].pop("certificate_envelope", None)
        emit(data, as_json=as_json, human=None)

    @app.command("report")
    def report_(
        ctx: typer.Context,
        job_id: str = typer.Argument(..., help="Batch job id (or its first characters)."),
        out: Path = typer.Option(Path("report.html"), "--out", help="Where to write the HTML page."),
        as_json: bool = JsonOption,
    ) -> None:
        """Write the privacy officer's self-contained HTML report of a job."""
        with open_sdk(ctx, read_only=True) as sdk:
            path = sdk.write_report(job_id=_full_job_id(sdk, job_id), out=out)
        emit({"report": str(path)}, as_json=as_json, human=lambda: print(f"wrote {path}"))
