"""``deletion-sdk keys generate|rotate|show``: the Ed25519 key signing certificates and audit checkpoints."""

from __future__ import annotations

import typer

from deletion_sdk.attest.keyring import deployment_keyring
from deletion_sdk.attest.keys import generate_keypair, load_key_info
from deletion_sdk.audit.rotation import rotate_signing_key
from deletion_sdk.cli._common import JsonOption, emit, state
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.errors import ConfigurationError
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
        force: bool = typer.Option(
            False,
            "--force",
            help="Refused when a key exists: use `keys rotate`, which keeps the old public key.",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Create the signing key (encrypted when DELETION_SDK_KEY_PASSPHRASE is set; mode 0600)."""
        _configure(ctx)
        st = state(ctx)
        settings = resolve_settings(home=st.home, database_url=st.database_url)
        if settings.layout.public_key.exists() or settings.layout.signing_key.exists():
            raise ConfigurationError(
                f"a signing key already exists in {settings.layout.keys}"
                + (" (--force does not replace it)" if force else "")
                + "; `deletion-sdk keys rotate` replaces it and keeps the old public key in the keyring, "
                "so what it signed still verifies"
            )
        info = generate_keypair(settings.layout.keys, passphrase=settings.key_passphrase)

        def human() -> None:
            print(f"key id:      {info.key_id}")
            print(
                f"private key: {info.private_key_path} ({'encrypted' if info.encrypted else 'NOT encrypted'})"
            )
            print(f"public key:  {info.public_key_path}  <- give this file to auditors")

        emit(info, as_json=as_json, human=human)

    @group.command("rotate")
    def rotate(
        ctx: typer.Context,
        old_key_lost: bool = typer.Option(
            False,
            "--old-key-lost",
            help="Rotate although the old private key cannot be loaded (no final checkpoint signed with it).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Replace the signing key: sign a final checkpoint with the old key, keep its public key in the
        keyring (valid until now, for trees up to that size), log the rotation, sign it with the new key."""
        with open_sdk(ctx) as sdk:
            result = rotate_signing_key(sdk.ledger, sdk.settings, old_key_lost=old_key_lost)

        def human() -> None:
            print(f"old key:     {result.old_key_id} (kept in {result.keyring_path})")
            bound = result.old_key_last_tree_size
            print(f"             valid for checkpoints up to {bound} entries" if bound is not None else "")
            print(f"new key:     {result.new_key_id}  first checkpoint at {result.checkpoint_size} entries")
            print("give auditors the new signing.pub and keyring.json")

        emit(result, as_json=as_json, human=human)

    @group.command("show")
    def show(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Show the key id and where the key pair lives."""
        _configure(ctx)
        st = state(ctx)
        settings = resolve_settings(home=st.home, database_url=st.database_url)
        info = load_key_info(settings.layout.keys)
        keyring = deployment_keyring(settings.layout.keys)
        retired = [k for k in keyring.keys if k.key_id != info.key_id]

        def human() -> None:
            print(f"key id:      {info.key_id}")
            print(f"public key:  {info.public_key_path}")
            encrypted = {True: "encrypted", False: "NOT encrypted", None: "missing"}[info.encrypted]
            print(f"private key: {info.private_key_path} ({encrypted})")
            for k in retired:
                until = k.valid_until.isoformat() if k.valid_until else "?"
                size = (
                    f", checkpoints up to {k.last_tree_size} entries" if k.last_tree_size is not None else ""
                )
                print(f"retired:     {k.key_id} (until {until}{size})")

        emit(
            {**info.model_dump(mode="json"), "retired_keys": [k.model_dump(mode="json") for k in retired]},
            as_json=as_json,
            human=human,
        )
