"""Ed25519 signing keys: generation, loading, key ids, and the small Signer/Verifier protocols.

Files in the key directory (``HomeLayout.keys``, i.e. ``HOME/keys``):

* ``signing.key`` - the private key, PKCS#8 PEM, encrypted with the best available scheme when a
  passphrase is given (``DELETION_SDK_KEY_PASSPHRASE``); created atomically with mode 0600.
* ``signing.pub`` - the public key, SubjectPublicKeyInfo PEM; this is what auditors receive.
* ``keyring.json`` - every public key that ever signed here, with its validity period
  (:mod:`deletion_sdk.attest.keyring`). Replacing a key pair moves the old public key there; it is never
  lost, so what the old key signed still verifies.

The key id is the hex SHA-256 of the DER SubjectPublicKeyInfo, so anyone holding ``signing.pub`` can
recompute it (``openssl pkey -pubin -in signing.pub -outform DER | sha256sum``).

Other signers (an HSM, a cloud KMS) can be plugged in by implementing :class:`Signer`; nothing in
the SDK depends on the key living in a file.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, SecretStr

from deletion_sdk._fs import atomic_write
from deletion_sdk.errors import ConfigurationError, InputError, SignatureError

__all__ = [
    "PRIVATE_KEY_FILE",
    "PUBLIC_KEY_FILE",
    "Ed25519Signer",
    "Ed25519Verifier",
    "KeyInfo",
    "Signer",
    "Verifier",
    "generate_keypair",
    "key_id",
    "load_key_info",
    "load_private_key",
    "load_public_key",
    "load_signer",
    "load_verifier",
    "public_key_pem",
    "raw_public_key",
]

PRIVATE_KEY_FILE = "signing.key"
PUBLIC_KEY_FILE = "signing.pub"


@runtime_checkable
class Signer(Protocol):
    """Something that signs bytes with an Ed25519 key and names that key."""

    @property
    def key_id(self) -> str:
        """Hex SHA-256 of the DER SubjectPublicKeyInfo of the signing key."""
        ...

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half, for key ids and signed-note key hashes."""
        ...

    def sign(self, data: bytes) -> bytes:
        """A signature over ``data``."""
        ...


@runtime_checkable
class Verifier(Protocol):
    """Something that checks signatures by one key; raises instead of returning False."""

    @property
    def key_id(self) -> str: ...

    @property
    def public_key(self) -> Ed25519PublicKey: ...

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return nothing when ``signature`` is valid over ``data``; raise SignatureError otherwise."""
        ...


class KeyInfo(BaseModel):
    """Where a key pair lives and how to recognise it."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    private_key_path: Path
    public_key_path: Path
    encrypted: bool | None = None  # None when only the public key was read


def _der(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        encoding=serialization.Encoding.DER, format=serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo of ``public_key``."""
    return hashlib.sha256(_der(public_key)).hexdigest()


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """The 32-byte RFC 8032 encoding of ``public_key``."""
    return public_key.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of ``public_key``."""
    return public_key.public_bytes(
        encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _secret(passphrase: str | SecretStr | None) -> bytes | None:
    if passphrase is None:
        return None
    text = passphrase.get_secret_value() if isinstance(passphrase, SecretStr) else passphrase
    if not isinstance(text, str) or not text:
        raise InputError("The 'passphrase' parameter must be a non-empty string or None. Got an empty value.")
    return text.encode("utf-8")


def generate_keypair(
    directory: Path | str,
    *,
    passphrase: str | SecretStr | None = None,
    force: bool = False,
    last_tree_size: int | None = None,
) -> KeyInfo:
    """Create a new Ed25519 key pair in ``directory`` and record it in the keyring.

    Args:
        directory: where to write ``signing.key`` and ``signing.pub`` (created, mode 0700, if missing).
        passphrase: encrypts the private key (PKCS#8, best available encryption) when given.
        force: replace an existing key pair. The old public key is kept in ``keyring.json``, retired now,
            so what it signed still verifies (``deletion-sdk keys rotate`` also signs a final checkpoint
            with it first).
        last_tree_size: the size of the last audit-log tree the replaced key signed (bounds it in the
            keyring); None when unknown.

    Returns:
        The paths and the key id of the new pair.

    Raises:
        ConfigurationError: a key already exists and ``force`` is False.
    """
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if not force and (private_path.exists() or public_path.exists()):
        raise ConfigurationError(
            f"A signing key already exists in {directory}; pass force=True (--force) to replace it."
        )
    secret = _secret(passphrase)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=encryption,
    )
    public_key = private_key.public_key()
    from deletion_sdk.attest.keyring import retire_and_add  # keyring builds on this module

    retire_and_add(directory, public_key_pem(public_key), last_tree_size=last_tree_size)
    atomic_write(private_path, private_pem, mode=0o600)
    atomic_write(public_path, public_key_pem(public_key), mode=0o644)
    return KeyInfo(
        key_id=key_id(public_key),
        private_key_path=private_path,
        public_key_path=public_path,
        encrypted=secret is not None,
    )


def load_public_key(source: Path | str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file path or PEM bytes.

    Raises:
        ConfigurationError: the file is missing, unreadable, or not an Ed25519 public key.
    """
    if isinstance(source, bytes):
        data, where = source, "the given PEM bytes"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ConfigurationError(f"Cannot read the public key {path}: {e.strerror or e}") from e
        where = str(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ConfigurationError(f"{where} is not a PEM SubjectPublicKeyInfo public key: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{where} holds a {type(key).__name__}; an Ed25519 public key is required.")
    return key


def load_private_key(path: Path | str, *, passphrase: str | SecretStr | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key stored at ``path`` (PKCS#8 PEM).

    Raises:
        ConfigurationError: the file is missing, the key is encrypted and no or a wrong passphrase was
            given, a passphrase was given for an unencrypted key, or the key is not Ed25519.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise ConfigurationError(
            f"No signing key at {path}. Create one with `deletion-sdk keys generate`."
        ) from e
    except OSError as e:
        raise ConfigurationError(f"Cannot read the signing key {path}: {e.strerror or e}") from e
    secret = _secret(passphrase)
    encrypted = b"ENCRYPTED PRIVATE KEY" in data
    if encrypted and secret is None:
        raise ConfigurationError(
            f"The signing key {path} is encrypted; set DELETION_SDK_KEY_PASSPHRASE to its passphrase."
        )
    if not encrypted and secret is not None:
        raise ConfigurationError(
            f"A passphrase was given but the signing key {path} is not encrypted; unset "
            "DELETION_SDK_KEY_PASSPHRASE or regenerate the key with it."
        )
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        if encrypted:
            raise ConfigurationError(
                f"Cannot decrypt the signing key {path}: "
                "the passphrase (DELETION_SDK_KEY_PASSPHRASE) is wrong."
            ) from e
        raise ConfigurationError(f"{path} is not a PKCS#8 PEM private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} holds a {type(key).__name__}; an Ed25519 private key is required.")
    return key


class Ed25519Signer:
    """A :class:`Signer` over an in-memory Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise InputError(
                f"The 'private_key' parameter must be an Ed25519PrivateKey. Got {type(private_key).__name__}."
            )
        self._key = private_key
        self._public = private_key.public_key()
        self._key_id = key_id(self._public)

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"Ed25519Signer(key_id={self._key_id[:16]}…)"


class Ed25519Verifier:
    """A :class:`Verifier` for one Ed25519 public key."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        if not isinstance(public_key, Ed25519PublicKey):
            raise InputError(
                f"The 'public_key' parameter must be an Ed25519PublicKey. Got {type(public_key).__name__}."
            )
        self._public = public_key
        self._key_id = key_id(public_key)

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def verify(self, signature: bytes, data: bytes) -> None:
        try:
            self._public.verify(signature, data)
        except InvalidSignature as e:
            raise SignatureError(f"signature does not verify under key {self._key_id[:16]}…") from e

    def __repr__(self) -> str:
        return f"Ed25519Verifier(key_id={self._key_id[:16]}…)"


def load_signer(directory: Path | str, *, passphrase: str | SecretStr | None = None) -> Ed25519Signer:
    """The signer whose key is ``directory/signing.key`` (see :func:`load_private_key`)."""
    return Ed25519Signer(load_private_key(Path(directory) / PRIVATE_KEY_FILE, passphrase=passphrase))


def load_verifier(source: Path | str | bytes | Ed25519PublicKey) -> Ed25519Verifier:
    """A verifier from a public key object, PEM bytes, a PEM file, or a key directory."""
    if isinstance(source, Ed25519PublicKey):
        return Ed25519Verifier(source)
    if isinstance(source, Path | str) and Path(source).is_dir():
        source = Path(source) / PUBLIC_KEY_FILE
    return Ed25519Verifier(load_public_key(source))


def load_key_info(directory: Path | str) -> KeyInfo:
    """Key id and paths of the pair in ``directory``, read from the public key only.

    Raises:
        ConfigurationError: there is no public key in ``directory``.
    """
    directory = Path(directory)
    public_path = directory / PUBLIC_KEY_FILE
    if not public_path.exists():
        raise ConfigurationError(
            f"No public key at {public_path}. Create one with `deletion-sdk keys generate`."
        )
    private_path = directory / PRIVATE_KEY_FILE
    encrypted: bool | None = None
    with contextlib.suppress(OSError):
        encrypted = b"ENCRYPTED PRIVATE KEY" in private_path.read_bytes()
    return KeyInfo(
        key_id=key_id(load_public_key(public_path)),
        private_key_path=private_path,
        public_key_path=public_path,
        encrypted=encrypted,
    )
