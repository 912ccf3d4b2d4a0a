"""Rotating the deployment's signing key without losing what the old key signed.

``rotate_signing_key``:

1. signs a final checkpoint of the log with the old key (size ``H``), so everything logged so far is
   covered by it (skipped, and the old key bounded by time only, when its private half is lost);
2. creates the new key pair; the old public key moves to the keyring, retired now and bounded to trees of
   at most ``H`` entries (a checkpoint of a larger tree by the old key is refused from then on);
3. appends a ``keys.rotated`` event naming both key ids, and signs a checkpoint with the new key over it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from deletion_sdk.attest.keys import Ed25519Signer, generate_keypair, load_key_info, load_signer
from deletion_sdk.audit.deployment import deployment_audit_log
from deletion_sdk.errors import ConfigurationError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.settings import Settings

__all__ = ["KeyRotation", "rotate_signing_key"]

ROTATED_EVENT = "keys.rotated"


class KeyRotation(BaseModel):
    """What a key rotation did."""

    model_config = ConfigDict(frozen=True)

    old_key_id: str
    new_key_id: str
    old_key_last_tree_size: int | None  # None when the old key could not sign a final checkpoint
    checkpoint_size: int  # the first checkpoint signed by the new key
    keyring_path: str


def rotate_signing_key(ledger: Ledger, settings: Settings, *, old_key_lost: bool = False) -> KeyRotation:
    """Replace the signing key, keeping the old public key in the keyring with its validity.

    Args:
        ledger: the deployment's ledger (its log gets the final old-key checkpoint and the rotation event).
        settings: where the keys live (HOME/keys) and the passphrase.
        old_key_lost: rotate even though the old private key cannot be loaded (then no final checkpoint
            is signed with it and it is bounded by time only).

    Raises:
        ConfigurationError: there is no key to rotate, or the old private key cannot be loaded and
            ``old_key_lost`` is False.
        AuditLogError: the log contradicts an earlier checkpoint; nothing is rotated.
    """
    keys = settings.layout.keys
    old_info = load_key_info(keys)  # ConfigurationError when there is no key pair
    last_size: int | None = None
    try:
        old_signer: Ed25519Signer | None = load_signer(keys, passphrase=settings.key_passphrase)
    except ConfigurationError:
        if not old_key_lost:
            raise
        old_signer = None
    if old_signer is not None:
        last_size = deployment_audit_log(ledger, settings, signer=old_signer).checkpoint().tree_size
    info = generate_keypair(keys, passphrase=settings.key_passphrase, force=True, last_tree_size=last_size)
    new_signer = load_signer(keys, passphrase=settings.key_passphrase)
    log = deployment_audit_log(ledger, settings, signer=new_signer)
    log.append(
        ROTATED_EVENT,
        {"old_key_id": old_info.key_id, "new_key_id": info.key_id, "old_key_last_tree_size": last_size},
        actor="keys",
    )
    signed = log.checkpoint()
    return KeyRotation(
        old_key_id=old_info.key_id,
        new_key_id=info.key_id,
        old_key_last_tree_size=last_size,
        checkpoint_size=signed.tree_size,
        keyring_path=str(keys / "keyring.json"),
    )
