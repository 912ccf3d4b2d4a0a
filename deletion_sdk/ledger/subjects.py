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

import hmac
import re
import unicodedata
from pathlib import Path

from deletion_sdk._keyfile import SecretKeyFile
from deletion_sdk.errors import InputError

__all__ = ["SUBJECT_REF_PATTERN", "SubjectKey", "normalise_identifier", "subject_ref", "validate_subject_ref"]

SUBJECT_REF_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class SubjectKey(SecretKeyFile):
    """The deployment's HMAC key for subject references. Its repr never shows the key."""

    __slots__ = ()
    what = "subject key"
    fingerprint_domain = b"deletion-sdk/subject-key-fingerprint\x00"
    event = "subject_key"
    missing_hint = "run `deletion-sdk init` or set DELETION_SDK_SUBJECT_KEY"

    @property
    def secret(self) -> bytes:
        """The raw key bytes (for HMAC computations only)."""
        return self._key

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[SubjectKey, bool]:
        """Read the key at ``path``, creating it (mode 0600, never overwriting) when absent.

        Returns:
            (key, whether it was created now).
        """
        if path.exists():
            return cls.load(path), False
        key = cls.generate()
        try:
            key.write_new(path)
        except FileExistsError:  # another process created it first: use theirs
            return cls.load(path), False
        cls._log().info("subject_key.created", path=str(path), fingerprint=key.fingerprint)
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
