"""``deletion-sdk redteam``: would the policy certify a method that forgets nothing?

Runs the red team's cheats on a model's deployed version and judges each by the policy of the due
requests, as a batch job would; changes nothing in the ledger. Exit codes: 0 when no cheat would be
certified, 1 when any would (a policy bug the privacy officer must see; also any other failure, with
``error: ...`` on stderr and nothing on stdout), 2 bad input.
"""

from __future__ import annotations

import sys

import typer

from deletion_sdk.cli._common import JsonOption, console, emit
from deletion_sdk.cli.batch import check_model_name
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.jobs.redteam import RedTeamReport

__all__ = ["print_red_team", "register"]

_SHOWN_CHECKS = 3


def print_red_team(report: RedTeamReport) -> None:
    """The report as a table: one row per cheat, then the verdict and what limits it."""
    from rich.table import Table

    table = Table(
        "cheat",
        "outcome",
        "certified?",
        "failed checks",
        title=(
            f"red team of policy {report.policy_id} ({report.evidence_tier} evidence) on {report.model} "
            f"v{report.model_version}: {report.n_requests} due requests, {report.n_forget} forget vs "
            f"{report.n_holdout} holdout examples"
        ),
    )
    for row in report.rows:
        shown = ", ".join(row.failed_checks[:_SHOWN_CHECKS])
        more = len(row.failed_checks) - _SHOWN_CHECKS
        table.add_row(
            row.cheat,
            row.outcome,
            "[bold red]YES[/]" if row.certified else "no",
            (shown + (f" (+{more})" if more > 0 else "")) or "—",
        )
    out = console()
    out.print(table)
    for note in report.notes:
        out.print(f"note: {note}")
    if report.certified_any:
        out.print(
            f"[bold red]POLICY BUG:[/] policy {report.policy_id} would certify "
            f"{', '.join(report.certified)} (methods that keep the data)"
        )
    else:
        out.print(f"no cheat would be certified by policy {report.policy_id}")


def register(app: typer.Typer) -> None:
    @app.command("redteam")
    def redteam(
        ctx: typer.Context,
        model: str = typer.Option(..., "--model", help="Model name; its deployed version is the original."),
        policy: str | None = typer.Option(
            None, "--policy", help="Judge this policy on the requests due under it (default: earliest due)."
        ),
        cheats: list[str] | None = typer.Option(
            None, "--cheat", help="A cheat of deletion_sdk.redteam (repeatable; default: every cheat)."
        ),
        population_only: bool = typer.Option(
            False,
            "--population-only",
            help="No shadow bank for a per-example policy: its tier check then fails closed.",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Would the policy certify a cheat that forgets nothing? (read-only; exit 1 if so)"""
        with open_sdk(ctx, read_only=True) as sdk:
            check_model_name(sdk, model)
            progress = None if as_json else (lambda msg: print(f"· {msg}", file=sys.stderr))
            report = sdk.red_team(
                model=model,
                policy=policy,
                cheats=cheats or None,
                population_only=population_only,
                progress=progress,
            )
        emit(report, as_json=as_json, human=lambda: print_red_team(report))
        raise typer.Exit(report.exit_code)
