"""The keyring: every public key that has signed for a deployment, with the period it was valid.

``HOME/keys/keyring.json`` (public data; give it to auditors with ``signing.pub``)::

    {"keys": [{"key_id": "<hex>", "public_key": "<PEM>", "valid_from": "<ISO>", "valid_until": "<ISO>",
               "last_tree_size": 1234}, …]}

A key is valid from ``valid_from`` until ``valid_until`` (None: still current). ``last_tree_size`` is the
size of the last audit-log tree a retired key signed (``keys rotate`` signs a final checkpoint with the old
key before replacing it): a checkpoint of a larger tree signed by that key is refused, so a retired key that
leaks later cannot sign a forged future. A certificate must have been issued (its signed ``issued_at``)
while its key was valid. Keys replaced without a final checkpoint (the old private key was lost) have no
``last_tree_size`` and are bounded by time only.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from deletion_sdk._fs import atomic_write
from deletion_sdk.attest.keys import (
    PUBLIC_KEY_FILE,
    Ed25519Verifier,
    key_id,
    load_public_key,
    public_key_pem,
)
from deletion_sdk.errors import ConfigurationError, SignatureError
from deletion_sdk.ledger._types import utcnow

__all__ = [
    "KEYRING_FILE",
    "Keyring",
    "KeyringEntry",
    "deployment_keyring",
    "load_keyring",
    "retire_and_add",
    "save_keyring",
]

KEYRING_FILE = "keyring.json"


class KeyringEntry(BaseModel):
    """One public key and its validity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    public_key: str
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    last_tree_size: int | None = Field(default=None, ge=0)

    def verifier(self) -> Ed25519Verifier:
        """The verifier of this key (its key id recomputed and checked).

        Raises:
            ConfigurationError: the PEM is not an Ed25519 key or its key id differs from ``key_id``.
        """
        verifier = Ed25519Verifier(load_public_key(self.public_key.encode("ascii")))
        if verifier.key_id != self.key_id:
            raise ConfigurationError(f"the keyring entry {self.key_id[:16]}… holds another public key")
        return verifier


class Keyring(BaseModel):
    """Every key of a deployment, current and retired."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: tuple[KeyringEntry, ...] = ()

    def get(self, key_id: str) -> KeyringEntry | None:
        """The entry of ``key_id``, or None."""
        return next((k for k in self.keys if k.key_id == key_id), None)

    def verifiers(self) -> list[Ed25519Verifier]:
        """A verifier per key."""
        return [k.verifier() for k in self.keys]

    def with_key(self, entry: KeyringEntry) -> Keyring:
        """This keyring with ``entry`` added (replacing an entry of the same key id)."""
        return Keyring(keys=(*(k for k in self.keys if k.key_id != entry.key_id), entry))

    def check_checkpoint(self, key: str, tree_size: int) -> None:
        """Refuse a checkpoint of ``tree_size`` signed by ``key`` after that key was retired.

        Raises:
            SignatureError: the key signed its last checkpoint at a smaller tree size.
        """
        entry = self.get(key)
        if entry is not None and entry.last_tree_size is not None and tree_size > entry.last_tree_size:
            raise SignatureError(
                f"signed by key {key[:16]}…, which was retired after the checkpoint of "
                f"{entry.last_tree_size} entries"
            )

    def check_time(self, key: str, at: datetime) -> None:
        """Refuse a signature made (by its own signed account) at ``at`` outside ``key``'s validity.

        Raises:
            SignatureError: ``at`` is before the key's ``valid_from`` or after its ``valid_until``.
        """
        entry = self.get(key)
        if entry is None:
            return
        if entry.valid_from is not None and at < entry.valid_from:
            raise SignatureError(f"signed at {at.isoformat()}, before key {key[:16]}… was valid")
        if entry.valid_until is not None and at > entry.valid_until:
            raise SignatureError(f"signed at {at.isoformat()}, after key {key[:16]}… was retired")


def entry_for(public_pem: bytes, *, valid_from: datetime | None = None) -> KeyringEntry:
    """A keyring entry for the PEM public key ``public_pem``."""
    public = load_public_key(public_pem)
    return KeyringEntry(
        key_id=key_id(public), public_key=public_key_pem(public).decode("ascii"), valid_from=valid_from
    )


def load_keyring(path: Path | str) -> Keyring:
    """The keyring stored at ``path`` (empty when there is none).

    Raises:
        ConfigurationError: the file cannot be read or is not a keyring.
    """
    path = Path(path)
    try:
        data = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Keyring()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read the keyring {path}: {e}") from e
    try:
        return Keyring.model_validate(json.loads(data))
    except (ValueError, ValidationError) as e:
        raise ConfigurationError(f"{path} is not a keyring: {str(e).splitlines()[0]}") from e


def save_keyring(keyring: Keyring, path: Path | str) -> Path:
    """Write ``keyring`` to ``path`` atomically (public data, mode 0644)."""
    return atomic_write(Path(path), keyring.model_dump_json(indent=2) + "\n", mode=0o644)


def retire_and_add(
    directory: Path | str, new_public_pem: bytes, *, last_tree_size: int | None = None
) -> Keyring:
    """Record a new key in ``directory``'s keyring, retiring the current one (kept, never dropped).

    Called before the new key pair replaces the files, so a crash leaves the old pair in place and the
    keyring knowing both keys.
    """
    directory = Path(directory)
    path = directory / KEYRING_FILE
    keyring = load_keyring(path)
    now = utcnow()
    current = directory / PUBLIC_KEY_FILE
    if current.exists():
        old = entry_for(current.read_bytes())
        known = keyring.get(old.key_id) or old
        keyring = keyring.with_key(
            known.model_copy(
                update={
                    "valid_until": now,
                    "last_tree_size": last_tree_size if last_tree_size is not None else known.last_tree_size,
                }
            )
        )
    keyring = keyring.with_key(entry_for(new_public_pem, valid_from=now))
    save_keyring(keyring, path)
    return keyring


def deployment_keyring(directory: Path | str) -> Keyring:
    """The keyring of the key directory, including its current public key (a deployment from before
    keyrings has none on file)."""
    directory = Path(directory)
    keyring = load_keyring(directory / KEYRING_FILE)
    current = directory / PUBLIC_KEY_FILE
    if current.exists():
        entry = entry_for(current.read_bytes())
        if keyring.get(entry.key_id) is None:
            keyring = keyring.with_key(entry)
    return keyring
