"""Subject references: the only form in which a person appears in the ledger, logs and certificates.

``subject_ref = hex(HMAC-SHA256(subject_key, utf8(normalise_identifier(identifier))))``

Normalisation: Unicode NFC, surrounding whitespace stripped, and — when the identifier looks like an e-mail
address (``local@domain``, no whitespace) — case-folded, so ``" Alice@Example.COM "`` and
``"alice@example.com"`` are the same person. Other identifiers keep their case (customer numbers like
``AB-12`` and ``ab-12`` may be different people).

The subject key is 32 random bytes, kept as hex in ``HOME/subject.key`` (mode 0600, created by
``deletion-sdk init``) or given as ``DELETION_SDK_SUBJECT_KEY``. Losing it makes existing references
unmatchable; leaking it allows confirming guesses of who is in the ledger, so treat it like a password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import unicodedata
from pathlib import Path
from typing import Any

from deletion_sdk.errors import ConfigurationError, InputError
from deletion_sdk.logging import get_logger

__all__ = ["SUBJECT_REF_PATTERN", "SubjectKey", "normalise_identifier", "subject_ref", "validate_subject_ref"]

KEY_BYTES = 32
SUBJECT_REF_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


class SubjectKey:
    """The deployment's HMAC key for subject references. Its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
            raise ConfigurationError(f"The subject key must be {KEY_BYTES} bytes. Got {got} instead.")
        self._key = key

    def __repr__(self) -> str:
        return f"SubjectKey(fingerprint={self.fingerprint})"

    @property
    def secret(self) -> bytes:
        """The raw key bytes (for HMAC computations only)."""
        return self._key

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of SHA-256 of the key: names the key without revealing it."""
        return hashlib.sha256(b"deletion-sdk/subject-key-fingerprint\x00" + self._key).hexdigest()[:16]

    @classmethod
    def generate(cls) -> SubjectKey:
        """A fresh random key."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_hex(cls, text: str) -> SubjectKey:
        """Parse a hex key (surrounding whitespace ignored).

        Raises:
            ConfigurationError: not 64 hex digits.
        """
        cleaned = text.strip()
        try:
            raw = bytes.fromhex(cleaned)
        except ValueError as e:
            raise ConfigurationError(
                f"The subject key must be {2 * KEY_BYTES} hex digits. Got {len(cleaned)} characters that are "
                "not all hex instead."
            ) from e
        return cls(raw)

    @classmethod
    def load(cls, path: Path) -> SubjectKey:
        """Read a key file, warning when other users may read it.

        Raises:
            ConfigurationError: the file is missing or malformed.
        """
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError as e:
            raise ConfigurationError(
                f"no subject key at {path}; run `deletion-sdk init` or set DELETION_SDK_SUBJECT_KEY"
            ) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigurationError(f"cannot read the subject key at {path}: {e}") from e
        mode = stat.S_IMODE(path.stat().st_mode)
        if os.name == "posix" and mode & 0o077:
            _log().warning("subject_key.permissive_mode", path=str(path), mode=oct(mode), expected="0o600")
        return cls.from_hex(text)

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[SubjectKey, bool]:
        """Read the key at ``path``, creating it (mode 0600, never overwriting) when absent.

        Returns:
            (key, whether it was created now).
        """
        if path.exists():
            return cls.load(path), False
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return cls.load(path), False
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.secret.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        _log().info("subject_key.created", path=str(path), fingerprint=key.fingerprint)
        return key, True


def normalise_identifier(identifier: str) -> str:
    """The canonical form of a raw subject identifier (see the module docstring).

    Raises:
        InputError: not a string, or empty after stripping.
    """
    if not isinstance(identifier, str):
        raise InputError(
            f"The 'subject' parameter must be a string identifier. Got {type(identifier).__name__} instead."
        )
    text = unicodedata.normalize("NFC", identifier).strip()
    if not text:
        raise InputError(
            "The 'subject' parameter must be a non-empty identifier. Got an empty string instead."
        )
    if _EMAIL.match(text):
        text = unicodedata.normalize("NFC", text.casefold())
    return text


def subject_ref(identifier: str, key: SubjectKey) -> str:
    """``hex(HMAC-SHA256(key, utf8(normalise_identifier(identifier))))`` — 64 lowercase hex digits."""
    return hmac.digest(key.secret, normalise_identifier(identifier).encode("utf-8"), "sha256").hex()


def validate_subject_ref(value: str, *, parameter: str = "subject_ref") -> str:
    """Return ``value`` when it is a subject reference (64 lowercase hex digits); raise InputError otherwise.

    The error never echoes the value: a caller who passed a raw identifier by mistake must not see it logged.
    """
    if not isinstance(value, str) or not SUBJECT_REF_PATTERN.match(value):
        raise InputError(
            f"The '{parameter}' parameter must be a subject reference (64 lowercase hex digits, see "
            "deletion_sdk.ledger.subjects.subject_ref). Got a value that is not one instead."
        )
    return value
