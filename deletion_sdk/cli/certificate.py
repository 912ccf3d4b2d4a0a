"""``deletion-sdk certificate verify|show``: check and read ``*.intoto.json`` unlearning certificates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from deletion_sdk.attest.keyring import Keyring, deployment_keyring
from deletion_sdk.attest.keys import Verifier, load_verifier
from deletion_sdk.attest.verify import check_artifact, check_job, read_certificate_unverified
from deletion_sdk.cli._common import JsonOption, emit, one_line, state
from deletion_sdk.errors import AuditLogError, ConfigurationError, SignatureError, VerificationError
from deletion_sdk.jobs.certify import CertificateVerification, verify_certificate_file
from deletion_sdk.logging import configure_logging
from deletion_sdk.sdk import resolve_settings

__all__ = ["register"]

_UNVERIFIED = "UNVERIFIED: the signature was not checked (pass --key PUB.pem or --key-id ID to verify)"


def _home_keyring(ctx: typer.Context) -> Keyring:
    st = state(ctx)
    return deployment_keyring(resolve_settings(home=st.home, database_url=st.database_url).layout.keys)


def _pinned(ctx: typer.Context, key: Path | None, key_id: str | None) -> tuple[Verifier, Keyring | None]:
    """The verifier the auditor chose: ``--key PUB.pem`` and/or a pinned ``--key-id`` (never HOME's key
    silently). With only ``--key-id``, the key is looked up in HOME's keyring by that id."""
    pinned = None if key_id is None else key_id.strip().lower()
    if key is None and pinned is None:
        raise ConfigurationError(
            "certificate verify needs the signer's public key: pass --key PUB.pem or a pinned --key-id ID "
            "(HOME's key is never used silently)"
        )
    if pinned is not None and len(pinned) < 16:
        raise ConfigurationError(
            f"The '--key-id' option must be at least 16 hex digits of the key id. Got {key_id!r} instead."
        )
    keyring = _home_keyring(ctx) if key is None else None
    if key is not None:
        verifier: Verifier = load_verifier(key)
    else:
        matches = [k for k in (keyring.keys if keyring else ()) if k.key_id.startswith(pinned or "")]
        if len(matches) != 1:
            raise ConfigurationError(
                f"no key with id {pinned} in HOME's keyring; pass the signer's public key with --key PUB.pem"
            )
        verifier = matches[0].verifier()
    if pinned is not None and not verifier.key_id.startswith(pinned):
        raise SignatureError(f"the key {key} has id {verifier.key_id}, not the pinned --key-id {pinned}")
    return verifier, keyring


def _summary(statement: dict[str, Any]) -> dict[str, Any]:
    """The figures a privacy officer looks at first, from a statement object."""
    p = statement.get("predicate") or {}
    subject = (statement.get("subject") or [{}])[0]
    requests = p.get("requests") or []
    audit = p.get("audit") or {}
    unlearner = p.get("unlearner") or {}
    return {
        "job_id": p.get("job_id"),
        "subject": {"name": subject.get("name"), "sha256": (subject.get("digest") or {}).get("sha256")},
        "predicate_type": statement.get("predicateType"),
        "requests": [
            {k: r.get(k) for k in ("request_id", "subject_ref", "received_at", "due_at", "completed_at")}
            for r in requests
        ],
        "policy": p.get("policy"),
        "forget_set": p.get("forget_set"),
        "original_model": p.get("original_model"),
        "unlearned_model": p.get("unlearned_model"),
        "unlearner": {k: unlearner.get(k) for k in ("name", "version", "wall_time_s", "device")},
        "verification": p.get("verification"),
        "decision": {
            "passed": (p.get("decision") or {}).get("passed"),
            "checks": len((p.get("decision") or {}).get("checks") or []),
        },
        "audit": {k: audit.get(k) for k in ("entry_index", "tree_size", "root_hash")},
        "issued_at": p.get("issued_at"),
        "signer_key_id": p.get("signer_key_id"),
    }


def _print_summary(summary: dict[str, Any]) -> None:
    s = summary
    print(f"certificate {s['job_id']}  issued {s['issued_at']}")
    print(f"  model:      {s['subject']['name']}  sha256:{s['subject']['sha256']}")
    original = s["original_model"] or {}
    print(f"  replaces:   {original.get('version')}  sha256:{original.get('digest')}")
    policy = s["policy"] or {}
    print(f"  policy:     {policy.get('id')}  (document sha256:{policy.get('digest')})")
    forget = s["forget_set"] or {}
    print(f"  forget set: {forget.get('size')} examples, Merkle root {forget.get('merkle_root')}")
    u = s["unlearner"]
    print(f"  unlearner:  {u['name']} {u['version']} on {u['device']}, {u['wall_time_s']} s")
    tier = (s["verification"] or {}).get("tier")
    decision = "PASSED" if s["decision"]["passed"] else "FAILED"
    print(f"  decision:   {decision} ({s['decision']['checks']} checks, tier {tier})")
    print(f"  requests:   {len(s['requests'])}")
    for r in s["requests"]:
        print(f"    {r['request_id']}  subject_ref {str(r['subject_ref'])[:16]}…  due {r['due_at']}")
    a = s["audit"]
    print(f"  audit log:  entry {a['entry_index']} of {a['tree_size']}, root {a['root_hash']}")
    print(f"  signer key: {s['signer_key_id']}")


def _verify(
    file: Path, key: Verifier | Path, log_key: Path | None, keyring: Keyring | None = None
) -> CertificateVerification:
    """The library's full check (signature, audit proof and checkpoint, audit binding), then the key's
    validity in the keyring when one is known: raises on failure."""
    result = verify_certificate_file(file, public_key=key, log_public_key=log_key)
    if keyring is not None:
        key_id = result.certificate.key_id
        keyring.check_time(key_id, result.certificate.predicate.issued_at)
        try:
            keyring.check_checkpoint(key_id, result.audit.tree_size)
        except SignatureError as e:
            raise AuditLogError(f"the certificate's checkpoint is {e}") from e
    return result


def _invalid(error: VerificationError, *, as_json: bool) -> typer.Exit:
    if as_json:
        emit({"valid": False, "error": one_line(error), "type": type(error).__name__}, as_json=True)
    sys.stderr.write(f"error: invalid certificate: {one_line(error)}\n")
    return typer.Exit(1)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Unlearning certificates (in-toto/DSSE, Ed25519).", no_args_is_help=True)
    app.add_typer(group, name="certificate")

    @group.command("verify")
    def verify(
        ctx: typer.Context,
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The *.intoto.json certificate."),
        key: Path | None = typer.Option(None, "--key", help="Signer's public key PEM (this or --key-id)."),
        key_id: str | None = typer.Option(
            None,
            "--key-id",
            help="Pinned signer key id (hex, >= 16 digits); without --key, from HOME's keyring.",
        ),
        log_key: Path | None = typer.Option(
            None, "--log-key", help="Audit log key PEM when it differs from --key."
        ),
        artifact: Path | None = typer.Option(
            None, "--artifact", help="Weights file that must be the certificate's subject (SHA-256 checked)."
        ),
        job: str | None = typer.Option(None, "--job", help="The batch job the certificate must belong to."),
        as_json: bool = JsonOption,
    ) -> None:
        """Verify the signature (with the key you pin), the statement, the audit proof, that the audit entry
        names this certificate, and optionally that WEIGHTS are its subject and JOB its job; exit 0 valid,
        1 invalid, 2 bad input."""
        configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")
        verifier, keyring = _pinned(ctx, key, key_id)
        artifact_sha256 = None
        try:
            result = _verify(file, verifier, log_key, keyring)
            if job is not None:
                check_job(result.certificate, job)
            if artifact is not None:
                artifact_sha256 = check_artifact(result.certificate, artifact)
        except VerificationError as e:
            raise _invalid(e, as_json=as_json) from e
        verified, audit = result.certificate, result.audit
        data = {
            "valid": True,
            "key_id": verified.key_id,
            "job_id": verified.predicate.job_id,
            "artifact_sha256": artifact_sha256,
            "payload_sha256": verified.payload_sha256,
            "predicate_sha256": result.predicate_sha256,
            "audit": audit,
            "summary": _summary(verified.statement.to_json_obj()),
        }

        def human() -> None:
            p = verified.predicate
            print(
                f"valid: certificate {p.job_id} signed by key {verified.key_id}; "
                f"audit entry {audit.entry_index} is in the signed log of {audit.tree_size} entries "
                f"and names this certificate"
            )
            if artifact_sha256 is not None:
                print(
                    f"artifact {artifact} is its subject {p.unlearned_model.version} "
                    f"(sha256 {artifact_sha256})"
                )

        emit(data, as_json=as_json, human=human)

    @group.command("show")
    def show(
        ctx: typer.Context,
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The *.intoto.json certificate."),
        key: Path | None = typer.Option(None, "--key", help="Verify with this public key before showing."),
        key_id: str | None = typer.Option(None, "--key-id", help="Or a pinned key id (HOME's keyring)."),
        as_json: bool = JsonOption,
    ) -> None:
        """A readable summary. Without --key or --key-id the content is shown UNVERIFIED (and says so)."""
        configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")
        if key is not None or key_id is not None:
            verifier, keyring = _pinned(ctx, key, key_id)
            try:
                verified = _verify(file, verifier, None, keyring).certificate
            except VerificationError as e:
                raise _invalid(e, as_json=as_json) from e
            summary = _summary(verified.statement.to_json_obj())
            data: dict[str, Any] = {"verified": True, "key_id": verified.key_id, **summary}
        else:
            summary = _summary(read_certificate_unverified(file))
            data = {"verified": False, "warning": _UNVERIFIED, **summary}

        def human() -> None:
            if data["verified"]:
                print(f"VERIFIED with key {data['key_id']}")
            else:
                print(f"*** {_UNVERIFIED} ***")
            _print_summary(summary)

        emit(data, as_json=as_json, human=human)
