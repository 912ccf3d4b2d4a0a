"""Crypto-shredding primitives: the master key, per-person data keys, and sealed example files.

Every person's examples are encrypted with AES-256-GCM under their own 256-bit *data key*; the data key is
stored only *wrapped* (AES-256-GCM under the deployment's *master key*) in the ledger. Destroying a person's
wrapped key makes every copy of their ciphertext unreadable, including copies in backups made earlier.

Formats (all binary, little room for ambiguity):

* wrapped data key = ``nonce (12) || AES-GCM(master, nonce, data_key, ad)`` — 60 bytes, with
  ``ad = b"deletion-sdk/data-key/v1\\x00" || subject_ref`` so a wrapped key moved to another person's row
  does not unwrap. Its *key digest* (``SHA-256`` of the wrapped bytes) names the key in the audit log and
  in certificates without revealing anything about it.
* sealed example = ``MAGIC (8) || nonce (12) || AES-GCM(data_key, nonce, plaintext, ad)`` with ``ad`` the
  RFC 8785 bytes of ``["deletion-sdk/example/v1", subject_ref, example_id, content_digest]``: a ciphertext
  swapped with another example's, or moved to another person, or relabelled with another digest, fails
  authentication. After decryption the plaintext's SHA-256 is checked against ``content_digest`` too.

The master key is 32 random bytes, kept as hex in ``HOME/keys/master.key`` (mode 0600, created on first use)
or given as ``DELETION_SDK_MASTER_KEY``. Its *fingerprint* is recorded with every wrapped key, so a wrong
master key is reported as such instead of as corrupted data.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deletion_sdk._keyfile import KEY_BYTES, SecretKeyFile
from deletion_sdk.attest.jcs import canonical_json
from deletion_sdk.errors import ConfigurationError, IntegrityError

__all__ = [
    "KEY_BYTES",
    "MAGIC",
    "MasterKey",
    "example_ad",
    "key_digest",
    "new_data_key",
    "open_example",
    "seal_example",
    "unwrap_data_key",
    "wrap_data_key",
]

NONCE_BYTES = 12
MAGIC = b"DSDKENC1"
_WRAP_AD = b"deletion-sdk/data-key/v1\x00"
_EXAMPLE_DOMAIN = "deletion-sdk/example/v1"
_FINGERPRINT_DOMAIN = b"deletion-sdk/master-key-fingerprint\x00"


class MasterKey(SecretKeyFile):
    """The deployment's key-encryption key. Its repr never shows the key."""

    __slots__ = ()
    what = "master key"
    fingerprint_domain = _FINGERPRINT_DOMAIN
    event = "master_key"
    missing_hint = "restore it from where you keep it, or set DELETION_SDK_MASTER_KEY"

    @property
    def aead(self) -> AESGCM:
        """AES-256-GCM under this key (for wrapping data keys only)."""
        return AESGCM(self._key)

    @classmethod
    def create(cls, path: Path) -> MasterKey:
        """Create a new key file at ``path`` (mode 0600), never overwriting one.

        Raises:
            ConfigurationError: a file exists there already.
        """
        key = cls.generate()
        key.write(path)
        cls._log().info("master_key.created", path=str(path), fingerprint=key.fingerprint)
        return key

    def write(self, path: Path) -> None:
        """Write this key as hex to a new file ``path`` (mode 0600, fsync'ed), never overwriting one.

        Raises:
            ConfigurationError: a file exists there already.
        """
        try:
            self.write_new(path)
        except FileExistsError as e:
            raise ConfigurationError(f"a master key already exists at {path}; not overwritten") from e


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return secrets.token_bytes(KEY_BYTES)


def key_digest(wrapped: bytes) -> str:
    """SHA-256 hex of a wrapped data key: the name of the key in the ledger, audit log and certificates."""
    return hashlib.sha256(wrapped).hexdigest()


def wrap_data_key(master: MasterKey, data_key: bytes, *, subject_ref: str) -> bytes:
    """``data_key`` wrapped under ``master``, bound to ``subject_ref`` (60 bytes)."""
    if len(data_key) != KEY_BYTES:
        raise ConfigurationError(f"a data key must be {KEY_BYTES} bytes; got {len(data_key)}")
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + master.aead.encrypt(nonce, data_key, _WRAP_AD + subject_ref.encode("ascii"))


def unwrap_data_key(
    master: MasterKey, wrapped: bytes, *, subject_ref: str, wrapped_by: str | None = None
) -> bytes:
    """The data key inside ``wrapped``.

    Args:
        master: the master key.
        wrapped: the wrapped key as stored.
        subject_ref: whose key it must be (authenticated).
        wrapped_by: fingerprint of the master key recorded with the wrapped key (for the error message).

    Raises:
        ConfigurationError: ``master`` is not the key it was wrapped under.
        IntegrityError: the wrapped key was altered or belongs to another person.
    """
    if wrapped_by is not None and wrapped_by != master.fingerprint:
        raise ConfigurationError(
            f"the master key (fingerprint {master.fingerprint}) is not the one the data keys were wrapped "
            f"under (fingerprint {wrapped_by}); restore that master key or set DELETION_SDK_MASTER_KEY"
        )
    try:
        return master.aead.decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AD + subject_ref.encode("ascii")
        )
    except InvalidTag as e:
        raise IntegrityError(
            f"the wrapped data key {key_digest(wrapped)[:16]} does not unwrap under master key "
            f"{master.fingerprint} for its subject: it was altered or moved"
        ) from e


def example_ad(*, subject_ref: str, example_id: str, content_digest: str) -> bytes:
    """The associated data binding a sealed example to its owner, id and content digest."""
    return canonical_json([_EXAMPLE_DOMAIN, subject_ref, example_id, content_digest])


def seal_example(
    data_key: bytes, plaintext: bytes, *, subject_ref: str, example_id: str, content_digest: str
) -> bytes:
    """Encrypt one example's bytes under its owner's data key (see the module docstring for the format)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    ad = example_ad(subject_ref=subject_ref, example_id=example_id, content_digest=content_digest)
    return MAGIC + nonce + AESGCM(data_key).encrypt(nonce, plaintext, ad)


def open_example(
    data_key: bytes, sealed: bytes, *, subject_ref: str, example_id: str, content_digest: str
) -> bytes:
    """Decrypt one sealed example and check its bytes against ``content_digest``.

    Raises:
        IntegrityError: not a sealed example, altered, swapped with another example, sealed for another
            person, or decrypting to bytes other than those registered (the message names the example).
    """
    head = len(MAGIC) + NONCE_BYTES
    if len(sealed) < head + 16 or not sealed.startswith(MAGIC):
        raise IntegrityError(f"example {example_id!r}: the stored file is not a sealed example")
    ad = example_ad(subject_ref=subject_ref, example_id=example_id, content_digest=content_digest)
    try:
        plaintext = AESGCM(data_key).decrypt(sealed[len(MAGIC) : head], sealed[head:], ad)
    except InvalidTag as e:
        raise IntegrityError(
            f"example {example_id!r}: the encrypted file does not authenticate (altered, swapped with "
            "another example's, or sealed under another key)"
        ) from e
    if hashlib.sha256(plaintext).hexdigest() != content_digest:  # sealed by a key holder under a false digest
        raise IntegrityError(f"example {example_id!r}: decrypted bytes differ from the registered digest")
    return plaintext
