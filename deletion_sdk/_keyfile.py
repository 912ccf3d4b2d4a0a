"""A 256-bit secret kept as hex in a mode-0600 file: the shared base of the subject and master keys.

Subclasses name the key (``what``, used in every message), the domain of its fingerprint, the prefix of
its log events and the hint a missing file's error gives. The key bytes never appear in a repr, a log line
or an error message; the *fingerprint* (16 hex digits of a domain-separated SHA-256) names a key instead.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import Any, ClassVar, Self

from deletion_sdk.errors import ConfigurationError
from deletion_sdk.logging import get_logger

KEY_BYTES = 32


class SecretKeyFile:
    """A 32-byte secret with hex file I/O. Subclasses set the four class attributes below."""

    __slots__ = ("_key",)

    what: ClassVar[str]  # "master key": how messages name it
    fingerprint_domain: ClassVar[bytes]  # prefix hashed with the key for its fingerprint
    event: ClassVar[str]  # log-event prefix, e.g. "master_key"
    missing_hint: ClassVar[str]  # what to do when the file is missing

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
            raise ConfigurationError(f"The {self.what} must be {KEY_BYTES} bytes. Got {got} instead.")
        self._key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fingerprint={self.fingerprint})"

    @classmethod
    def _log(cls) -> Any:
        # Looked up per call: a logger bound at import time would ignore a later configure_logging().
        return get_logger(cls.__module__)

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of a domain-separated SHA-256 of the key: names it without revealing it."""
        return hashlib.sha256(self.fingerprint_domain + self._key).hexdigest()[:16]

    @classmethod
    def generate(cls) -> Self:
        """A fresh random key."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_hex(cls, text: str) -> Self:
        """Parse a hex key (surrounding whitespace ignored).

        Raises:
            ConfigurationError: not 64 hex digits.
        """
        cleaned = text.strip()
        try:
            raw = bytes.fromhex(cleaned)
        except ValueError as e:
            raise ConfigurationError(
                f"The {cls.what} must be {2 * KEY_BYTES} hex digits. Got {len(cleaned)} characters that are "
                "not all hex instead."
            ) from e
        return cls(raw)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a key file, warning when other users may read it.

        Raises:
            ConfigurationError: the file is missing or malformed.
        """
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError as e:
            raise ConfigurationError(f"no {cls.what} at {path}; {cls.missing_hint}") from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigurationError(f"cannot read the {cls.what} at {path}: {e}") from e
        mode = stat.S_IMODE(path.stat().st_mode)
        if os.name == "posix" and mode & 0o077:
            event = f"{cls.event}.permissive_mode"
            cls._log().warning(event, path=str(path), mode=oct(mode), expected="0o600")
        return cls.from_hex(text)

    def write_new(self, path: Path) -> None:
        """Write this key as hex to a new file ``path`` (mode 0600, fsync'ed), never overwriting one.

        Raises:
            FileExistsError: a file exists there already.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(self._key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
