"""``deletion-sdk audit verify|export|prove|consistency|checkpoint``: the tamper-evident audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from deletion_sdk.attest.keyring import Keyring, load_keyring
from deletion_sdk.attest.keys import Verifier, load_verifier
from deletion_sdk.audit.consistency import verify_consistency_proof
from deletion_sdk.audit.export import verify_export
from deletion_sdk.audit.log import ConsistencyProof
from deletion_sdk.audit.verify import AuditVerification, verify_audit_log
from deletion_sdk.audit.witness import WitnessStore, witness_path
from deletion_sdk.cli._common import JsonOption, emit, one_line, state
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.errors import ConfigurationError, InputError, VerificationError
from deletion_sdk.logging import configure_logging

__all__ = ["register"]

_KEY_HELP = "Trusted log public key PEM (repeat after a key rotation; default: HOME's keyring)."


def _keys(keys: list[Path] | None, keyring: Path | None) -> tuple[list[Verifier], Keyring | None]:
    return [load_verifier(p) for p in keys or []], None if keyring is None else load_keyring(keyring)


def _invalid(error: VerificationError, *, as_json: bool) -> typer.Exit:
    if as_json:
        emit({"valid": False, "error": one_line(error), **error.details}, as_json=True)
    sys.stderr.write(f"error: {one_line(error)}\n")
    return typer.Exit(1)


def _report(result: AuditVerification, *, as_json: bool) -> None:
    def human() -> None:
        print(
            f"valid: {result.tree_size} entries, root {result.root_hash}; "
            f"{result.checkpoints_verified} signed checkpoint(s) verified "
            f"({result.witnessed_checkpoints} witnessed, {result.certificate_checkpoints} in certificates)"
        )
        if result.key_ids:
            print(f"signed by key(s): {', '.join(result.key_ids)}")
        if result.unwitnessed_checkpoints:
            print("note: the newest checkpoint is not in the witness yet (the next checkpoint adds it)")
        if result.unsigned_entries:
            print(
                f"note: the last {result.unsigned_entries} entries are not yet covered by a signed "
                "checkpoint (run `deletion-sdk audit checkpoint`)"
            )

    emit({"valid": True, **result.model_dump(mode="json")}, as_json=as_json, human=human)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The audit log: RFC 9162 Merkle tree, signed checkpoints.", no_args_is_help=True)
    app.add_typer(group, name="audit")

    @group.command("verify")
    def verify(
        ctx: typer.Context,
        keys: list[Path] | None = typer.Option(None, "--key", help=_KEY_HELP),
        keyring: Path | None = typer.Option(None, "--keyring", help="A keyring.json of trusted keys."),
        file: Path | None = typer.Option(
            None, "--file", help="Verify this `audit export` file offline (no database); needs --key."
        ),
        witness: Path | None = typer.Option(
            None, "--witness", help="A witness file you keep (default: the deployment's, or the export's)."
        ),
        certificates: list[Path] | None = typer.Option(
            None, "--certificate", help="Certificate file or directory whose checkpoints must match (repeat)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Recompute every leaf, the tree and every checkpoint (ledger, witness, certificates); exit 1
        naming the first bad entry or the missing checkpoint."""
        verifiers, trusted_ring = _keys(keys, keyring)
        witness_store = None if witness is None else WitnessStore(witness)
        if file is not None:
            configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")
            if not verifiers and trusted_ring is None:
                raise ConfigurationError(
                    "verifying an export needs the log's public key: pass --key PUB.pem (or --keyring)"
                )
            try:
                result = verify_export(
                    file,
                    public_keys=verifiers,
                    keyring=trusted_ring,
                    witness=witness_store,
                    certificates=list(certificates or []),
                )
            except VerificationError as e:
                raise _invalid(e, as_json=as_json) from e
            _report(result, as_json=as_json)
            return
        with open_sdk(ctx) as sdk:
            settings = sdk.settings
            log = sdk.audit_log
            if not verifiers and trusted_ring is None:
                trusted_ring = log.keyring
            try:
                result = verify_audit_log(
                    sdk.ledger,
                    public_keys=verifiers,
                    keyring=trusted_ring,
                    witness=witness_store or WitnessStore(witness_path(settings)),
                    certificates=[
                        *([settings.layout.certificates] if settings.layout.certificates.is_dir() else []),
                        *(certificates or []),
                    ],
                )
            except VerificationError as e:
                raise _invalid(e, as_json=as_json) from e
        _report(result, as_json=as_json)

    @group.command("export")
    def export(
        ctx: typer.Context,
        out: Path = typer.Option(..., "--out", help="Destination JSON-lines file."),
        as_json: bool = JsonOption,
    ) -> None:
        """Write the log with its checkpoints, witness and keyring as JSON lines (verify it offline with
        `audit verify --file F --key PUB.pem`)."""
        with open_sdk(ctx) as sdk:
            count = sdk.audit_log.export_jsonl(out)
        emit(
            {"path": str(out), "entries": count},
            as_json=as_json,
            human=lambda: print(f"wrote {count} entries with their checkpoints to {out}"),
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
            proof = sdk.audit_log.inclusion_proof(entry, size=size)

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

    @group.command("consistency")
    def consistency(
        ctx: typer.Context,
        old: int | None = typer.Argument(None, help="Size of the older tree (a signed checkpoint's)."),
        new: int | None = typer.Argument(None, help="Size of the newer tree (default: the log now)."),
        out: Path | None = typer.Option(None, "--out", help="Also write the proof (JSON) to this file."),
        check: Path | None = typer.Option(
            None, "--verify", help="Verify a proof file offline (no database) instead; needs --key."
        ),
        keys: list[Path] | None = typer.Option(None, "--key", help="Trusted log public key PEM (repeat)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Prove that the log at OLD entries is a prefix of the log at NEW (RFC 9162), or check such a
        proof offline with --verify PROOF.json --key PUB.pem."""
        if check is not None:
            configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")
            if not keys:
                raise ConfigurationError(
                    "verifying a consistency proof needs the log's key: pass --key PUB.pem"
                )
            try:
                proof = ConsistencyProof.model_validate_json(check.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise InputError(f"{check} is not a consistency proof: {one_line(e)}") from e
            try:
                verify_consistency_proof(proof, public_keys=[load_verifier(k) for k in keys])
            except VerificationError as e:
                raise _invalid(e, as_json=as_json) from e
            emit(
                {"valid": True, "old_size": proof.old_size, "new_size": proof.new_size},
                as_json=as_json,
                human=lambda: print(
                    f"valid: the signed log of {proof.old_size} entries is a prefix of the signed log "
                    f"of {proof.new_size} entries"
                ),
            )
            return
        if old is None:
            raise InputError("The 'OLD' argument (a tree size) is required unless --verify is given.")
        with open_sdk(ctx) as sdk:
            result = sdk.audit_log.consistency_proof(old, new_size=new)
        if out is not None:
            out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")

        def human() -> None:
            print(f"old: {result.old_size} entries, root {result.old_root}")
            print(f"new: {result.new_size} entries, root {result.new_root}")
            print("consistency proof:")
            for h in result.proof:
                print(f"  {h}")
            signed = [n for n in (result.old_checkpoint, result.new_checkpoint) if n]
            print(f"{len(signed)} of the two tree heads are signed checkpoints (attached)")

        emit(result, as_json=as_json, human=human)

    @group.command("checkpoint")
    def checkpoint(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Sign a checkpoint of the log as it is now and append it to the witness (refused if it
        contradicts an earlier signed or witnessed one)."""
        with open_sdk(ctx) as sdk:
            log = sdk.audit_log
            if log.signer is None:
                raise ConfigurationError("no signing key; create one with `deletion-sdk keys generate`")
            signed = log.checkpoint()

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
