"""``deletion-sdk policies list|check``."""

from __future__ import annotations

from pathlib import Path

import typer

from deletion_sdk.cli._common import JsonOption, emit, emit_list
from deletion_sdk.policy import Policy, list_policies, load_policy_file


def _row(p: Policy) -> dict[str, object]:
    return {
        "id": p.id,
        "title": p.title,
        "jurisdiction": p.jurisdiction,
        "deadline": p.deadline.response.describe(),
        "extension": p.deadline.extension.describe() if p.deadline.extension else None,
        "methods": list(p.unlearning.methods),
        "tier": p.verification.tier.value,
        "digest": p.digest,
    }


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Erasure policies (policies/*.yaml).", no_args_is_help=True)
    app.add_typer(group, name="policies")

    @group.command("list")
    def list_(
        policy_dir: Path | None = typer.Option(None, "--dir", help="Extra directory of policy files."),
        as_json: bool = JsonOption,
    ) -> None:
        """List the known policies (the deployment's DELETION_SDK_POLICY_DIR, then the built-ins)."""
        from deletion_sdk.sdk import resolve_settings

        policies = list_policies(policy_dir=policy_dir or resolve_settings().policy_dir)
        emit_list(
            [_row(p) for p in policies],
            as_json=as_json,
            columns=("id", "title", "deadline", "extension", "methods", "tier"),
            row=lambda r: (
                r["id"],
                r["title"],
                r["deadline"],
                r["extension"] or "none",
                " → ".join(r["methods"]),
                r["tier"],
            ),
            noun="policy",
            plural="policies",
            whole=("id",),
        )

    @group.command("check")
    def check(
        file: Path = typer.Argument(..., help="Policy YAML file to validate."),
        as_json: bool = JsonOption,
    ) -> None:
        """Validate a policy file; a malformed one is named with its line and field (exit 2)."""
        policy = load_policy_file(file)
        emit(
            {"valid": True, **_row(policy)},
            as_json=as_json,
            human=lambda: print(f"ok: {file} is a valid policy '{policy.id}' (sha256 {policy.digest})"),
        )
