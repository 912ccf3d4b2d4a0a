"""``deletion-sdk audit verify|export|prove|checkpoint``: the tamper-evident audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from deletion_sdk.attest.keys import load_signer, load_verifier
from deletion_sdk.audit.log import AuditLog
from deletion_sdk.audit.verify import verify_audit_log
from deletion_sdk.cli._common import JsonOption, emit, one_line
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.errors import VerificationError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The audit log: RFC 9162 Merkle tree, signed checkpoints.", no_args_is_help=True)
    app.add_typer(group, name="audit")

    @group.command("verify")
    def verify(
        ctx: typer.Context,
        keys: list[Path] | None = typer.Option(
            None, "--key", help="Trusted log public key PEM (repeat after a key rotation; default HOME/keys)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Recompute every leaf, the tree and every checkpoint; exit 1 naming the first bad entry."""
        with open_sdk(ctx) as sdk:
            key_paths = list(keys or [])
            if not key_paths:
                default = sdk.settings.layout.public_key
                key_paths = [default] if default.exists() else []
            verifiers = [load_verifier(p) for p in key_paths]
            try:
                result = verify_audit_log(sdk.ledger, public_keys=verifiers or None)
            except VerificationError as e:
                if as_json:
                    emit(
                        {"valid": False, "error": one_line(e), **e.details},
                        as_json=True,
                    )
                sys.stderr.write(f"error: {one_line(e)}\n")
                raise typer.Exit(1) from e

        def human() -> None:
            print(
                f"valid: {result.tree_size} entries, root {result.root_hash}; "
                f"{result.checkpoints_verified} signed checkpoint(s) verified"
            )
            if result.unsigned_entries:
                print(
                    f"note: the last {result.unsigned_entries} entries are not yet covered by a signed "
                    "checkpoint (run `deletion-sdk audit checkpoint`)"
                )

        emit({"valid": True, **result.model_dump(mode="json")}, as_json=as_json, human=human)

    @group.command("export")
    def export(
        ctx: typer.Context,
        out: Path = typer.Option(..., "--out", help="Destination JSON-lines file."),
        as_json: bool = JsonOption,
    ) -> None:
        """Write every entry and checkpoint as JSON lines (for offline review)."""
        with open_sdk(ctx) as sdk:
            count = AuditLog(sdk.ledger).export_jsonl(out)
        emit(
            {"path": str(out), "entries": count},
            as_json=as_json,
            human=lambda: print(f"wrote {count} entries to {out}"),
        )

    @group.command("prove")
    def prove(
        ctx: typer.Context,
        entry: int = typer.Argument(..., help="Entry index (0-based)."),
        size: int | None = typer.Option(
            None, "--size", help="Tree size to prove against (default: the latest checkpoint)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Print the RFC 9162 inclusion proof of one entry."""
        with open_sdk(ctx) as sdk:
            proof = AuditLog(sdk.ledger).inclusion_proof(entry, size=size)

        def human() -> None:
            event = proof.event
            kind = f" ({event.type} at {event.at})" if event else ""
            print(f"entry {proof.index}{kind}")
            print(f"leaf hash: {proof.leaf_hash}")
            print(f"tree size: {proof.tree_size}  root: {proof.root_hash}")
            print("audit path (leaf to root):")
            for h in proof.proof:
                print(f"  {h}")
            if proof.checkpoint:
                print("signed checkpoint:")
                sys.stdout.write("  " + proof.checkpoint.rstrip("\n").replace("\n", "\n  ") + "\n")
            else:
                print("no signed checkpoint covers this tree size yet (run `deletion-sdk audit checkpoint`)")

        emit(proof, as_json=as_json, human=human)

    @group.command("checkpoint")
    def checkpoint(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Sign a checkpoint of the log as it is now (refused if it contradicts the previous one)."""
        with open_sdk(ctx) as sdk:
            signer = load_signer(sdk.settings.layout.keys, passphrase=sdk.settings.key_passphrase)
            signed = AuditLog(sdk.ledger, signer=signer).checkpoint()

        def human() -> None:
            sys.stdout.write(signed.note)

        emit(
            {
                "tree_size": signed.tree_size,
                "root_hash": signed.root_hash,
                "key_id": signed.key_id,
                "note": signed.note,
            },
            as_json=as_json,
            human=human,
        )
