"""``deletion-sdk keys generate|show``: the Ed25519 key that signs certificates and audit checkpoints."""

from __future__ import annotations

import typer

from deletion_sdk.attest.keys import generate_keypair, load_key_info
from deletion_sdk.cli._common import JsonOption, emit, state
from deletion_sdk.logging import configure_logging
from deletion_sdk.sdk import resolve_settings

__all__ = ["register"]


def _configure(ctx: typer.Context) -> None:
    # warnings only (on stderr) unless --debug: stdout stays one JSON document
    configure_logging(level="DEBUG" if state(ctx).debug else "WARNING")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The signing key (HOME/keys): Ed25519, PKCS#8 PEM.", no_args_is_help=True)
    app.add_typer(group, name="keys")

    @group.command("generate")
    def generate(
        ctx: typer.Context,
        force: bool = typer.Option(False, "--force", help="Replace an existing key pair."),
        as_json: bool = JsonOption,
    ) -> None:
        """Create the signing key (encrypted when DELETION_SDK_KEY_PASSPHRASE is set; mode 0600)."""
        _configure(ctx)
        st = state(ctx)
        settings = resolve_settings(home=st.home, database_url=st.database_url)
        info = generate_keypair(settings.layout.keys, passphrase=settings.key_passphrase, force=force)

        def human() -> None:
            print(f"key id:      {info.key_id}")
            print(
                f"private key: {info.private_key_path} ({'encrypted' if info.encrypted else 'NOT encrypted'})"
            )
            print(f"public key:  {info.public_key_path}  <- give this file to auditors")

        emit(info, as_json=as_json, human=human)

    @group.command("show")
    def show(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Show the key id and where the key pair lives."""
        _configure(ctx)
        st = state(ctx)
        settings = resolve_settings(home=st.home, database_url=st.database_url)
        info = load_key_info(settings.layout.keys)

        def human() -> None:
            print(f"key id:      {info.key_id}")
            print(f"public key:  {info.public_key_path}")
            encrypted = {True: "encrypted", False: "NOT encrypted", None: "missing"}[info.encrypted]
            print(f"private key: {info.private_key_path} ({encrypted})")

        emit(info, as_json=as_json, human=human)
